"""Attention maps drawn over the image."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from vlkit.core.errors import VlkitError  # noqa: E402
from vlkit.vision.images import enlarged  # noqa: E402

FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")


def check_figure_path(path: Path, inputs: list[Path]) -> None:
    """A figure is written exactly at `path`: a file name with a figure suffix, never a folder or an input."""
    path = Path(path)
    if path.is_dir():
        raise VlkitError(f"{path} is a folder; give the figure a file name, e.g. {path / 'attention.png'}")
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise VlkitError(f"cannot write a figure to {path}: its name must end in {', '.join(FIGURE_SUFFIXES)}")
    for source in inputs:
        if path.exists() and Path(source).exists() and path.samefile(source):
            raise VlkitError(f"{path} is an input of this command; write the figure to another file")


def _upsampled(weights: np.ndarray, height: int, width: int) -> np.ndarray:
    """`weights` (h, w) scaled to their maximum and upsampled bilinearly to (height, width) uint8 in 0-255."""
    scaled = weights / max(float(weights.max()), 1e-12)
    return np.asarray(Image.fromarray((scaled * 255).astype(np.uint8)).resize((width, height), Image.BILINEAR))


def _overlay(axis: plt.Axes, image: np.ndarray, weights: np.ndarray) -> None:
    """Draw `image` (H, W, 3) with `weights` (h, w), scaled to their maximum and upsampled bilinearly, over it."""
    axis.imshow(image)
    axis.imshow(_upsampled(weights, *image.shape[:2]), cmap="jet", alpha=0.5, vmin=0, vmax=255)


def blend_attention(image: np.ndarray, weights: np.ndarray, min_side: int = 0) -> np.ndarray:
    """`image` (H, W, 3) uint8 half-and-half with the jet colours of `weights` (h, w) (scaled to their maximum,
    upsampled bilinearly), as the figures draw it, as an (H', W', 3) uint8 array; an image whose shorter side is
    under `min_side` is first enlarged (nearest neighbour) to it, so a 64-pixel input stays visible."""
    image = enlarged(image, min_side)
    colours = matplotlib.colormaps["jet"](_upsampled(weights, *image.shape[:2]))[..., :3] * 255  # (H', W', 3)
    return np.round(0.5 * image.astype(np.float64) + 0.5 * colours).astype(np.uint8)


def save_attention_figure(image: np.ndarray, attention: np.ndarray, question: str,
                          answers: list[tuple[str, float]], path: Path) -> None:
    """Save a figure at `path` (its suffix picks the format: see `check_figure_path`): the image, then each
    glimpse's attention (G, h, w) upsampled and overlaid on it."""
    glimpses = attention.shape[0]
    figure, axes = plt.subplots(1, glimpses + 1, figsize=(3.2 * (glimpses + 1), 3.6), squeeze=False)
    axes[0, 0].imshow(image)
    axes[0, 0].set_title("image")
    for g in range(glimpses):
        _overlay(axes[0, g + 1], image, attention[g])
        axes[0, g + 1].set_title(f"attention {g + 1}" if glimpses > 1 else "attention")
    for axis in axes[0]:
        axis.axis("off")
    best, probability = answers[0]
    figure.suptitle(f"Q: {question}\nA: {best} ({probability:.1%})", fontsize=10)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def save_caption_attention_figure(image: np.ndarray, words: list[str], attention: np.ndarray, path: Path,
                                  columns: int = 5) -> None:
    """Save the image, then one panel per word with the attention (L, h, w) of the step that wrote it over the
    image (the captioning tutorial's visualisation)."""
    labels = ["<start>", *words]
    panels = len(labels)
    rows = -(-panels // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.8 * rows), squeeze=False)
    for position, axis in enumerate(axes.flat):
        axis.axis("off")
        if position == 0:
            axis.imshow(image)
        elif position < panels:
            _overlay(axis, image, attention[position - 1])
        if position < panels:
            axis.set_title(labels[position], fontsize=11)
    figure.suptitle(" ".join(words), fontsize=12)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
