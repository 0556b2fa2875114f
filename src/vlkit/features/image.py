"""Grid and pooled CNN features of an image folder with torchvision ResNets, into a feature store.

`--grid G` resizes images to (32 G) x (32 G) (shorter side to 32 G / 0.875, then a centre crop, as
pytorch-vqa prepares 448x448 inputs) and keeps the last convolutional map: G x G rows of 2048
(ResNet-50/101/152) or 512 (ResNet-18) values. `--pooled` keeps the global average instead: one
row. Weights come from `--weights FILE` or the torchvision cache; random weights only with
`--random-weights`, which the manifest records. Decoding runs in DataLoader workers; the backbone
runs batched on the chosen device (channels-last and bf16/fp16 autocast on a GPU when asked).
Extraction resumes (rows already done are skipped); corrupt or missing images are listed.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
from PIL import Image, UnidentifiedImageError
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import models, transforms
from tqdm.auto import tqdm

from vlkit.core.errors import VlkitError
from vlkit.features.store import StoreWriter, finish_writing

BACKBONES = {
    "resnet18": (models.resnet18, models.ResNet18_Weights.IMAGENET1K_V1, 512),
    "resnet50": (models.resnet50, models.ResNet50_Weights.IMAGENET1K_V1, 2048),
    "resnet101": (models.resnet101, models.ResNet101_Weights.IMAGENET1K_V1, 2048),
    "resnet152": (models.resnet152, models.ResNet152_Weights.IMAGENET1K_V1, 2048),
}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
RANDOM_WEIGHTS_SEED = 0
_DIGITS = re.compile(r"(\d+)")


def image_id_from_name(name: str) -> int:
    """COCO-style ids: the last run of digits in the file name (`COCO_val2014_000000391895.jpg` -> 391895)."""
    stem = name.split(".")[0]
    runs = _DIGITS.findall(stem)
    if not runs:
        raise VlkitError(f"cannot read an image id from the file name {name!r} (expected digits, as in COCO names)")
    return int(runs[-1])


def list_images(directory: Path) -> dict[int, Path]:
    """Image id -> file of every image in `directory`; two files with one id are an error."""
    if not directory.is_dir():
        raise VlkitError(f"image folder not found: {directory}")
    found: dict[int, Path] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            image_id = image_id_from_name(path.name)
            if image_id in found:
                raise VlkitError(f"{found[image_id].name} and {path.name} have the same image id {image_id}")
            found[image_id] = path
    if not found:
        raise VlkitError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {directory}")
    return found


class ImageFiles(Dataset):
    """(image id, tensor (3, S, S) or None when the file cannot be decoded, error text)."""

    def __init__(self, items: list[tuple[int, Path]], size: int):
        self.items = items
        self.transform = transforms.Compose([
            transforms.Resize(int(size / 0.875)), transforms.CenterCrop(size), transforms.ToTensor(),
            transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        image_id, path = self.items[index]
        try:
            with Image.open(path) as image:
                return image_id, self.transform(image.convert("RGB")), ""
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
            return image_id, None, f"{path}: {error}"


def collate_images(items):
    good = [(i, t) for i, t, _ in items if t is not None]
    bad = [(i, e) for i, t, e in items if t is None]
    ids = [i for i, _ in good]
    return ids, (torch.stack([t for _, t in good]) if good else None), bad


class Backbone(nn.Module):
    """ResNet up to its last convolutional stage: images (B, 3, S, S) -> (B, D, S/32, S/32)."""

    def __init__(self, resnet: nn.Module):
        super().__init__()
        self.body = nn.Sequential(*list(resnet.children())[:-2])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)


def check_extraction_settings(grid: int, batch_size: int, workers: int, shard: tuple[int, int], device: str,
                              half: Optional[str]) -> None:
    """Every setting of an extraction checked before any image is read."""
    if grid < 1:
        raise VlkitError(f"--grid must be at least 1 (images are resized to 32 x grid), got {grid}")
    if batch_size < 1:
        raise VlkitError(f"--batch-size must be at least 1, got {batch_size}")
    if workers < 0:
        raise VlkitError(f"--workers must be 0 or more, got {workers}")
    index, count = shard
    if not 0 <= index < count:
        raise VlkitError(f"--shard {index}/{count}: need 0 <= K < N")
    try:
        target = torch.device(device)
    except RuntimeError as error:
        raise VlkitError(f"--device {device!r} is not a device (cpu, cuda, cuda:1, ...): {error}") from error
    if target.type == "cuda" and not torch.cuda.is_available():
        raise VlkitError(f"--device {device}: this machine has no CUDA GPU; use --device cpu")
    if target.type == "cuda" and target.index is not None and target.index >= torch.cuda.device_count():
        raise VlkitError(f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s)")
    if target.type not in ("cpu", "cuda"):
        raise VlkitError(f"--device {device!r}: use cpu or cuda[:N]")
    if half not in (None, "bf16", "fp16"):
        raise VlkitError(f"--half must be bf16 or fp16, got {half!r}")
    if half and target.type != "cuda":
        raise VlkitError("--half needs a GPU (--device cuda); on the CPU features are extracted in float32")


def load_backbone(name: str, weights_file: Optional[Path], random_weights: bool) -> tuple[Backbone, str]:
    """The ResNet and the SHA-256 of its weights file ("random" for --random-weights)."""
    if name not in BACKBONES:
        raise VlkitError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    builder, weights_enum, _ = BACKBONES[name]
    if random_weights:
        if weights_file is not None:
            raise VlkitError("--random-weights and --weights exclude each other")
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        return Backbone(builder(weights=None)).eval(), f"random (torch.manual_seed({RANDOM_WEIGHTS_SEED}))"
    resnet = builder(weights=None)
    path = weights_file or Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights_enum.url)
    if not path.is_file():
        raise VlkitError(f"no weights for {name}: {path} is missing. Copy torchvision's {os.path.basename(weights_enum.url)}"
                         f" there, pass --weights FILE, or use --random-weights for a smoke test")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        resnet.load_state_dict(state)
    except Exception as error:  # not a checkpoint at all fails in many ways (pickle, zip, type errors)
        raise VlkitError(f"{path} is not a {name} state_dict: {str(error).splitlines()[0][:300]}") from error
    return Backbone(resnet).eval(), hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class ExtractionReport:
    total: int
    extracted: int
    skipped_done: int
    bad: list[tuple[int, str]] = field(default_factory=list)
    complete: bool = False


def extract_image_features(
    images: Path, out: Path, model: str = "resnet152", grid: int = 14, pooled: bool = False,
    weights: Optional[Path] = None, random_weights: bool = False, batch_size: int = 32, workers: int = 2,
    shard: tuple[int, int] = (0, 1), device: str = "cpu", half: Optional[str] = None, skip_bad: bool = False,
) -> ExtractionReport:
    """Extract features of every image in `images` (or of shard k of n) into the store `out`."""
    check_extraction_settings(grid, batch_size, workers, shard, device, half)
    index, count = shard
    files = sorted(list_images(images).items())[index::count]
    backbone, weights_hash = load_backbone(model, weights, random_weights)
    dim = BACKBONES[model][2]
    size = grid * 32
    manifest = {
        "source": str(images.resolve()), "model": model, "weights_sha256": weights_hash,
        "random_weights": random_weights, "grid": None if pooled else [grid, grid],
        "preprocessing": f"resize shorter side to {int(size / 0.875)}, centre crop {size}, ImageNet mean/std",
        "shard": [index, count],
    }
    writer = StoreWriter(out, [i for i, _ in files], 1 if pooled else grid * grid, dim,
                         "pooled" if pooled else "grid", manifest)
    pending = set(writer.pending().tolist())
    todo = [(i, p) for i, p in files if i in pending]
    report = ExtractionReport(total=len(files), extracted=0, skipped_done=len(files) - len(todo))
    backbone.to(device)
    if half and device != "cpu":
        backbone.to(memory_format=torch.channels_last)
    loader = DataLoader(ImageFiles(todo, size), batch_size=batch_size, num_workers=workers,
                        collate_fn=collate_images, pin_memory=device != "cpu")
    autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(half or "")
    with torch.inference_mode(), tqdm(total=len(todo), unit="img", desc=f"{model} features") as progress:
        for ids, batch, bad in loader:
            report.bad += bad
            if batch is not None:
                batch = batch.to(device, non_blocking=True)
                if half and device != "cpu":
                    batch = batch.to(memory_format=torch.channels_last)
                with torch.autocast(device_type=torch.device(device).type, dtype=autocast_dtype,
                                    enabled=autocast_dtype is not None):
                    maps = backbone(batch).float()  # (B, D, G, G)
                rows = maps.mean(dim=(2, 3), keepdim=True) if pooled else maps
                rows = rows.flatten(2).transpose(1, 2).cpu().numpy()  # (B, K, D)
                writer.write(ids, rows, [rows.shape[1]] * len(ids))
                report.extracted += len(ids)
            progress.update(len(ids) + len(bad))
    report.complete = bool(finish_writing(writer, report.bad, skip_bad)["complete"])
    return report
