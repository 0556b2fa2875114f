"""Attention maps drawn over the image."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from vlkit.core.errors import VlkitError  # noqa: E402

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


def save_attention_figure(image: np.ndarray, attention: np.ndarray, question: str,
                          answers: list[tuple[str, float]], path: Path) -> None:
    """Save a figure at `path` (its suffix picks the format: see `check_figure_path`): the image, then each
    glimpse's attention (G, h, w) upsampled and overlaid on it."""
    height, width = image.shape[:2]
    glimpses = attention.shape[0]
    figure, axes = plt.subplots(1, glimpses + 1, figsize=(3.2 * (glimpses + 1), 3.6), squeeze=False)
    axes[0, 0].imshow(image)
    axes[0, 0].set_title("image")
    for g in range(glimpses):
        weights = attention[g] / max(float(attention[g].max()), 1e-12)
        upsampled = np.asarray(Image.fromarray((weights * 255).astype(np.uint8)).resize((width, height),
                                                                                       Image.BILINEAR))
        axes[0, g + 1].imshow(image)
        axes[0, g + 1].imshow(upsampled, cmap="jet", alpha=0.5, vmin=0, vmax=255)
        axes[0, g + 1].set_title(f"attention {g + 1}" if glimpses > 1 else "attention")
    for axis in axes[0]:
        axis.axis("off")
    best, probability = answers[0]
    figure.suptitle(f"Q: {question}\nA: {best} ({probability:.1%})", fontsize=10)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
