"""Run a clip-feature model on decoded frames: small CNNs trained end to end make its appearance and motion inputs.

Video QA models (`dualvgr`, `msvqa`) read per-frame appearance features (B, C, F, Da) and per-clip motion
features (B, C, Dm), which on MSVD-QA come from ResNet-101 and a 3D ResNeXt-101. On a dataset that yields
frames (the synthetic set, or small raw frames of a real one), `EndToEndClips` makes them instead: a 2D
`SmallCNN` per frame and a 3D CNN per clip on frames at half resolution (2x2 average pooling, then conv
3x3x3 -> GroupNorm -> ReLU -> spatial 2x2 max-pool stages, averaged over time). Each map is pooled to a
4 x 4 grid whose cells are concatenated and projected (Linear + ReLU) to the CNN's last width (Da, Dm):
global averaging would drop where things are, and the questions ask where things go.
Each distinct video of a batch is encoded once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.core.errors import VlkitError
from vlkit.core.validation import check_positive_ints
from vlkit.videoqa.models.msvqa import PIXEL_GRID

POOLED_GRID = 4  # cells per side kept of each frame's and clip's feature map
from vlkit.vision.small_cnn import SmallCNN


@dataclass
class ClipEncoderConfig:
    """The CNNs put in front of a video QA model on a dataset that yields frames (trained with it)."""

    appearance_channels: list[int] = field(default_factory=lambda: [16, 32, 64])  # 2D CNN per frame
    motion_channels: list[int] = field(default_factory=lambda: [16, 64])  # 3D CNN per clip, at half resolution

    def __post_init__(self) -> None:
        check_positive_ints(self, "appearance_channels")
        check_positive_ints(self, "motion_channels")


def check_encoder_widths(encoder: ClipEncoderConfig, appearance_dim: int, motion_dim: int) -> None:
    """The CNNs' last widths must equal the feature widths the model reads."""
    for name, channels, dim in (("appearance", encoder.appearance_channels, appearance_dim),
                                ("motion", encoder.motion_channels, motion_dim)):
        if channels[-1] != dim:
            raise VlkitError(f"clip_encoder.{name}_channels ends with {channels[-1]} channels but the model reads "
                             f"{name} features of {dim}: set model.{name}_dim={channels[-1]}")


class SmallCNN3D(nn.Module):
    """2x2 average pooling, then stages of conv 3x3x3 -> GroupNorm -> ReLU -> (1, 2, 2) max-pool, over clips
    (N, 3, F, H, W) in [0, 255]."""

    def __init__(self, channels: list[int], groups: int = 8):
        super().__init__()
        layers: list[nn.Module] = [nn.AvgPool3d((1, 2, 2))]
        in_channels = 3
        for out_channels in channels:
            layers += [
                nn.Conv3d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
                nn.GroupNorm(min(groups, out_channels), out_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool3d((1, 2, 2)),
            ]
            in_channels = out_channels
        self.layers = nn.Sequential(*layers)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """uint8 or float clips (N, 3, F, H, W) -> (N, D, F, H / 2^(S+1), W / 2^(S+1))."""
        return self.layers(clips.float() / 127.5 - 1.0)


def grid_projection(channels: int) -> nn.Sequential:
    """(N, channels, h, w) -> (N, channels): a POOLED_GRID x POOLED_GRID average grid, flattened, Linear + ReLU."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(POOLED_GRID), nn.Flatten(),
                         nn.Linear(channels * POOLED_GRID * POOLED_GRID, channels), nn.ReLU(inplace=True))


class EndToEndClips(nn.Module):
    """frames (U, C, F, H, W, 3) uint8 + video_index (B,) + the model's question inputs -> the model's outputs."""

    def __init__(self, model: nn.Module, encoder: ClipEncoderConfig):
        super().__init__()
        self.appearance_cnn = SmallCNN(list(encoder.appearance_channels))
        self.appearance_projection = grid_projection(encoder.appearance_channels[-1])
        self.motion_cnn = SmallCNN3D(list(encoder.motion_channels))
        self.motion_projection = grid_projection(encoder.motion_channels[-1])
        self.model = model

    def encode(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (U, C, F, H, W, 3) -> appearance (U, C, F, Da), motion (U, C, Dm)."""
        videos, clips, frames_per_clip = frames.shape[:3]
        pixels = frames.permute(0, 1, 2, 5, 3, 4)  # (U, C, F, 3, H, W)
        grid = self.appearance_cnn(pixels.flatten(0, 2))  # (U * C * F, Da, h, w)
        appearance = self.appearance_projection(grid).reshape(videos, clips, frames_per_clip, -1)
        volumes = self.motion_cnn(pixels.flatten(0, 1).transpose(1, 2))  # (U * C, Dm, F, h, w)
        motion = self.motion_projection(volumes.mean(dim=2)).reshape(videos, clips, -1)
        return appearance, motion

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """batch["frames"] (U, C, F, H, W, 3), batch["video_index"] (B,) into U, plus questions -> model outputs.

        The model also gets fixed pixel summaries of each clip (what msvqa's `reconstruct: pixels` rebuilds)."""
        appearance, motion = self.encode(batch["frames"])
        appearance_pixels, motion_pixels = pixel_summaries(batch["frames"])
        index = batch["video_index"]
        return self.model({**batch, "appearance": appearance[index], "motion": motion[index],
                           "appearance_pixels": appearance_pixels[index], "motion_pixels": motion_pixels[index]})


def pixel_summaries(frames: torch.Tensor, grid: int = PIXEL_GRID) -> tuple[torch.Tensor, torch.Tensor]:
    """frames (U, C, F, H, W, 3) uint8 -> each clip's mean frame in [-1, 1] and mean absolute frame difference in
    [0, 2] (zeros for one-frame clips), average-pooled to grid x grid: (U, C, 3 * grid * grid) each, flattened
    channel first."""
    videos, clips = frames.shape[:2]
    pixels = frames.float().div(127.5).sub(1.0).permute(0, 1, 2, 5, 3, 4).flatten(0, 1)  # (U * C, F, 3, H, W)
    change = (pixels[:, 1:] - pixels[:, :-1]).abs().mean(dim=1) if pixels.shape[1] > 1 else \
        torch.zeros_like(pixels[:, 0])
    pooled = [F.adaptive_avg_pool2d(summary, grid).flatten(1).reshape(videos, clips, -1)
              for summary in (pixels.mean(dim=1), change)]
    return pooled[0], pooled[1]
