"""Appearance and motion features of videos' clips, into a `clips` feature store (HCRN/DualVGR's inputs).

Each video gives C clips of F frames (`vlkit.features.video_clips`: HCRN's sampling, decoded with PyAV
in DataLoader worker processes, one video per item). As HCRN (thaolmk54/hcrn-videoqa,
preprocess/preprocess_features.py) extracts them:
- appearance: every frame, resized to 224 x 224, through a torchvision ResNet (HCRN: ResNet-101) up to its
  average pool -> (C, F, 2048); pixels / 255 normalised with HCRN's mean (0.485, 0.456, 0.406) and std
  (0.229, 0.224, 0.224) (its blue std is 0.224 where torchvision's is 0.225). Store: clip_shape [C, F].
- motion: every clip, frames resized to 112 x 112, through a 3D CNN -> (C, D). Store: clip_shape [C, 1].
  `resnext101` is the Kinetics 3D ResNeXt-101 HCRN uses (`vlkit.features.resnext3d`, 2048-d, raw 0..255
  pixels as HCRN feeds it); `r3d_18` and `r2plus1d_18` are torchvision's Kinetics models (512-d, pixels / 255
  normalised with their Kinetics mean and std).
Weights come from `weights` or the torch hub cache (`<hub dir>/checkpoints/<file>`); random weights only
when asked, recorded in the manifest. Extraction resumes (rows done are skipped) and shards like image
extraction; corrupt, missing and frameless videos are listed, and videos shorter than one clip
(padded by repeating frames) are recorded in the manifest's `short_videos` [[id, frames], ...].
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.models import video as video_models
from tqdm.auto import tqdm

from vlkit.core.errors import VlkitError
from vlkit.features.image import BACKBONES, ExtractionReport, check_extraction_settings, load_backbone
from vlkit.features.resnext3d import CHECKPOINT_NAME, FEATURE_DIM, load_kinetics_checkpoint, resnext101_3d
from vlkit.features.store import StoreWriter, finish_writing
from vlkit.features.video_clips import read_clips

KINDS = ("appearance", "motion")
DEFAULT_MODELS = {"appearance": "resnet101", "motion": "resnext101"}
DEFAULT_SIZES = {"appearance": 224, "motion": 112}
RANDOM_WEIGHTS_SEED = 0
HCRN_MEAN = (0.485, 0.456, 0.406)
HCRN_STD = (0.229, 0.224, 0.224)
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)  # torchvision's video models
KINETICS_STD = (0.22803, 0.22145, 0.216989)


@dataclass(frozen=True)
class MotionModel:
    """A 3D CNN: its builder, weights file name, feature size D and input scaling."""

    build: Callable[[], nn.Module]
    weights_file: str
    dim: int
    preprocessing: str


def _torchvision_video(builder: Callable[..., nn.Module]) -> Callable[[], nn.Module]:
    return lambda: builder(weights=None)


MOTION_MODELS = {
    "resnext101": MotionModel(resnext101_3d, CHECKPOINT_NAME, FEATURE_DIM, "RGB 0..255, no mean subtracted (HCRN)"),
    "r3d_18": MotionModel(_torchvision_video(video_models.r3d_18), "r3d_18-b3b3357e.pth", 512,
                          f"RGB / 255, Kinetics mean {KINETICS_MEAN} std {KINETICS_STD}"),
    "r2plus1d_18": MotionModel(_torchvision_video(video_models.r2plus1d_18), "r2plus1d_18-91a641e6.pth", 512,
                               f"RGB / 255, Kinetics mean {KINETICS_MEAN} std {KINETICS_STD}"),
}


@dataclass
class VideoExtractionReport(ExtractionReport):
    """Counts of one extraction run; `short`: (video id, frames) of videos shorter than one clip."""

    short: list[tuple[int, int]] = field(default_factory=list)


class VideoClipFiles(Dataset):
    """(video id, clips (C, F, H, W, 3) uint8 or None when unreadable, frame count, error text)."""

    def __init__(self, items: list[tuple[int, Path]], clips: int, frames_per_clip: int, size: int,
                 decoder_threads: int):
        self.items = items
        self.clips, self.frames_per_clip, self.size = clips, frames_per_clip, size
        self.decoder_threads = decoder_threads

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        video_id, path = self.items[index]
        try:
            clips, frames = read_clips(path, self.clips, self.frames_per_clip, self.size, self.decoder_threads)
        except VlkitError as error:
            return video_id, None, 0, str(error)
        return video_id, torch.from_numpy(clips), frames, ""


def collate_videos(items):
    """-> ids, clips (B, C, F, H, W, 3) uint8 or None, frame counts, [(id, error)] of unreadable videos."""
    good = [(i, clips, frames) for i, clips, frames, _ in items if clips is not None]
    bad = [(i, error) for i, clips, _, error in items if clips is None]
    batch = torch.stack([clips for _, clips, _ in good]) if good else None
    return [i for i, _, _ in good], batch, [frames for _, _, frames in good], bad


def _weights_path(weights: Optional[Path], file_name: str, model: str) -> Path:
    path = weights or Path(torch.hub.get_dir()) / "checkpoints" / file_name
    if not path.is_file():
        raise VlkitError(f"no weights for {model}: {path} is missing. Copy {file_name} there, pass --weights FILE, "
                         "or use --random-weights for a smoke test")
    return path


def load_motion_model(name: str, weights: Optional[Path], random_weights: bool) -> tuple[nn.Module, str]:
    """The 3D CNN `name` returning (B, D) per clip, and the SHA-256 of its weights ("random ..." when untrained)."""
    if name not in MOTION_MODELS:
        raise VlkitError(f"unknown motion model {name!r}; choose one of {', '.join(MOTION_MODELS)}")
    spec = MOTION_MODELS[name]
    if random_weights:
        if weights is not None:
            raise VlkitError("--random-weights and --weights exclude each other")
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        network, digest = spec.build(), f"random (torch.manual_seed({RANDOM_WEIGHTS_SEED}))"
    else:
        path = _weights_path(weights, spec.weights_file, name)
        network = spec.build()
        if name == "resnext101":
            load_kinetics_checkpoint(network, path)
        else:
            try:
                network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            except Exception as error:  # not a checkpoint fails in many ways (pickle, zip, keys)
                raise VlkitError(f"{path} is not a {name} state_dict: {str(error).splitlines()[0][:300]}") from error
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if name != "resnext101":
        network.fc = nn.Identity()  # torchvision's video ResNets: the pooled 512-d vector
    return network.eval(), digest


class ClipEncoder(nn.Module):
    """uint8 clips (B, C, F, H, W, 3) -> features (B, C * F, D) (appearance) or (B, C, D) (motion)."""

    def __init__(self, kind: str, model: str, network: nn.Module):
        super().__init__()
        self.kind, self.network = kind, network
        if kind == "appearance":
            mean, std = torch.tensor(HCRN_MEAN) * 255, torch.tensor(HCRN_STD) * 255
        elif model == "resnext101":
            mean, std = torch.zeros(3), torch.ones(3)
        else:
            mean, std = torch.tensor(KINETICS_MEAN) * 255, torch.tensor(KINETICS_STD) * 255
        self.register_buffer("mean", mean, persistent=False)  # (3,)
        self.register_buffer("std", std, persistent=False)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        batch, num_clips, frames, height, width, _ = clips.shape
        pixels = (clips.float() - self.mean) / self.std  # (B, C, F, H, W, 3)
        if self.kind == "appearance":
            images = pixels.view(batch * num_clips * frames, height, width, 3).permute(0, 3, 1, 2)
            maps = self.network(images)  # (B C F, D, h, w); the permuted view is channels-last already
            return maps.float().mean(dim=(2, 3)).view(batch, num_clips * frames, -1)
        videos = pixels.view(batch * num_clips, frames, height, width, 3).permute(0, 4, 1, 2, 3)  # (B C, 3, F, H, W)
        return self.network(videos).float().view(batch, num_clips, -1)


def _check_video_settings(kind: str, model: str, clips: int, frames_per_clip: int, size: int) -> None:
    if kind not in KINDS:
        raise VlkitError(f"--kind must be appearance or motion, got {kind!r}")
    models = BACKBONES if kind == "appearance" else MOTION_MODELS
    if model not in models:
        raise VlkitError(f"unknown {kind} model {model!r}; choose one of {', '.join(models)}")
    if clips < 1 or frames_per_clip < 1:
        raise VlkitError(f"--clips and --frames-per-clip must be at least 1, got {clips} and {frames_per_clip}")
    if size < 8:
        raise VlkitError(f"--size must be at least 8 pixels, got {size}")


def _default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def extract_video_features(
    videos: dict[int, Path], out: Path, kind: str = "appearance", model: Optional[str] = None,
    weights: Optional[Path] = None, random_weights: bool = False, clips: int = 8, frames_per_clip: int = 16,
    batch_size: int = 2, workers: Optional[int] = None, shard: tuple[int, int] = (0, 1), device: str = "cpu",
    skip_bad: bool = False, size: Optional[int] = None, half: Optional[str] = None,
) -> VideoExtractionReport:
    """Extract `kind` features of `videos` (id -> file; shard k of n) into the clips store `out`.

    `batch_size` counts videos (each C x F frames for appearance, C clips for motion); `workers`
    decoding processes (default: every core); `size` the square frame size (default 224 / 112).
    """
    model = model or DEFAULT_MODELS.get(kind, "")
    size = size or DEFAULT_SIZES.get(kind, 0)
    workers = _default_workers() if workers is None else workers
    _check_video_settings(kind, model, clips, frames_per_clip, size)
    check_extraction_settings(1, batch_size, workers, shard, device, half)  # grid 1: videos have no grid
    if not videos:
        raise VlkitError("no videos to extract")
    index, count = shard
    files = sorted(videos.items())[index::count]
    if not files:
        raise VlkitError(f"shard {index}/{count} holds no videos: there are only {len(videos)}")
    if kind == "appearance":
        backbone, digest = load_backbone(model, weights, random_weights)
        network, dim, pixels = backbone, BACKBONES[model][2], f"RGB / 255, HCRN mean {HCRN_MEAN} std {HCRN_STD}"
    else:
        network, digest = load_motion_model(model, weights, random_weights)
        dim, pixels = MOTION_MODELS[model].dim, MOTION_MODELS[model].preprocessing
    clip_shape = [clips, frames_per_clip if kind == "appearance" else 1]
    manifest = {
        "source": os.path.commonpath([str(p.resolve()) for _, p in files]), "model": model,
        "weights_sha256": digest, "random_weights": random_weights, "grid": None, "feature": kind,
        "clip_shape": clip_shape, "frames_per_clip": frames_per_clip,
        "sampling": "HCRN: centres linspace(0, T, C + 2)[1:C+1], F consecutive frames, edge frames repeated",
        "preprocessing": f"PyAV rgb24, PIL bicubic resize to {size}x{size}, {pixels}", "shard": [index, count],
    }
    writer = StoreWriter(out, [i for i, _ in files], clip_shape[0] * clip_shape[1], dim, "clips", manifest)
    pending = set(writer.pending().tolist())
    todo = [(i, p) for i, p in files if i in pending]
    report = VideoExtractionReport(total=len(files), extracted=0, skipped_done=len(files) - len(todo))
    encoder = ClipEncoder(kind, model, network).to(device)
    on_gpu = torch.device(device).type == "cuda"
    if half and kind == "appearance":
        encoder.to(memory_format=torch.channels_last)
    dataset = VideoClipFiles(todo, clips, frames_per_clip, size, decoder_threads=1 if workers else 0)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate_videos,
                        pin_memory=on_gpu)
    autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(half or "")
    with torch.inference_mode(), tqdm(total=len(todo), unit="video", desc=f"{model} {kind} features") as progress:
        for ids, batch, frame_counts, bad in loader:
            report.bad += bad
            if batch is not None:
                with torch.autocast(device_type=torch.device(device).type, dtype=autocast_dtype,
                                    enabled=autocast_dtype is not None):
                    rows = encoder(batch.to(device, non_blocking=True))  # (B, K, D)
                writer.write(ids, rows.cpu().numpy(), [rows.shape[1]] * len(ids))
                report.extracted += len(ids)
                report.short += [(i, n) for i, n in zip(ids, frame_counts) if n < frames_per_clip]
            progress.update(len(ids) + len(bad))
    short = dict(writer.manifest.get("short_videos", [])) | dict(report.short)
    writer.manifest["short_videos"] = sorted([int(i), int(n)] for i, n in short.items())
    report.complete = bool(finish_writing(writer, report.bad, skip_bad)["complete"])
    return report

