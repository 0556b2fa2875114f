"""3D ResNeXt-101 (Hara, Kataoka and Satoh, "Can Spatiotemporal 3D CNNs Retrace the History of 2D CNNs and
ImageNet?", CVPR 2018), as trained on Kinetics-400 in kenshohara/3D-ResNets-PyTorch: HCRN's and DualVGR's
motion features.

Facts from the references (HCRN, thaolmk54/hcrn-videoqa, preprocess/models/resnext.py and
preprocess/preprocess_features.py `build_resnext`; the same network is kenshohara/video-classification-3d-cnn-pytorch,
models/resnext.py):
- stem: conv1 Conv3d(3, 64, 7, stride (1, 2, 2), padding 3, no bias), bn1, ReLU, MaxPool3d(3, stride 2, padding 1);
- layer1..layer4: [3, 4, 23, 3] bottlenecks of `planes` 128, 256, 512, 1024 (strides 1, 2, 2, 2), each
  conv1 1x1x1 (-> planes, since cardinality 32 x planes / 32), conv2 3x3x3 grouped in 32 (stride of the
  block), conv3 1x1x1 (-> 2 x planes), with bn1..bn3; the first block of a layer has a shortcut of type B:
  `downsample` = Conv3d 1x1x1 with the block's stride (index 0) + BatchNorm3d (index 1);
- avgpool, then fc Linear(2048, 400). HCRN builds it with `last_fc=False`, so its motion feature is the
  2048-d average-pooled output (fc exists only so that the checkpoint loads).
- `resnext-101-kinetics.pth` is `{'epoch', 'arch', 'state_dict', 'optimizer'}`; the state dict was saved
  from nn.DataParallel, so every key starts with `module.`, and (PyTorch 0.3) has no `num_batches_tracked`.
- input: (B, 3, 16, 112, 112) RGB pixel values 0..255; HCRN subtracts no mean (kenshohara's own
  pipeline subtracts the ActivityNet mean 114.77, 107.74, 99.48 after the same network).
The reference pools with AvgPool3d((ceil(16 / 16), ceil(112 / 32), ceil(112 / 32))) = (1, 4, 4); at 16 x 112 x 112
layer4 gives (2048, 1, 4, 4), so that is the global average taken here (which also accepts other sizes).
Untrained weights (--random-weights only) are PyTorch's default initialisation, not the reference's.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vlkit.core.errors import VlkitError

CARDINALITY = 32
EXPANSION = 2
RESNEXT101_LAYERS = (3, 4, 23, 3)
LAYER_PLANES = (128, 256, 512, 1024)
FEATURE_DIM = LAYER_PLANES[-1] * EXPANSION  # 2048
CHECKPOINT_NAME = "resnext-101-kinetics.pth"


class ResNeXtBottleneck3d(nn.Module):
    """x (B, in, T, H, W) -> (B, 2 planes, T / s, H / s, W / s): 1x1x1, grouped 3x3x3 (stride s), 1x1x1 + shortcut."""

    def __init__(self, in_channels: int, planes: int, stride: int, downsample: nn.Module | None):
        super().__init__()
        width = CARDINALITY * (planes // 32)
        self.conv1 = nn.Conv3d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.conv2 = nn.Conv3d(width, width, kernel_size=3, stride=stride, padding=1, groups=CARDINALITY, bias=False)
        self.bn2 = nn.BatchNorm3d(width)
        self.conv3 = nn.Conv3d(width, planes * EXPANSION, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * EXPANSION)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNeXt3d(nn.Module):
    """Clips (B, 3, T, H, W) -> pooled features (B, 2048); `fc` (2048 -> classes) is kept for the checkpoint."""

    def __init__(self, layers: tuple[int, ...] = RESNEXT101_LAYERS, num_classes: int = 400):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 64, kernel_size=7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        in_channels = 64
        for index, (blocks, planes) in enumerate(zip(layers, LAYER_PLANES), start=1):
            stride = 1 if index == 1 else 2
            setattr(self, f"layer{index}", self._layer(in_channels, planes, blocks, stride))
            in_channels = planes * EXPANSION
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(FEATURE_DIM, num_classes)

    @staticmethod
    def _layer(in_channels: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or in_channels != planes * EXPANSION:
            downsample = nn.Sequential(
                nn.Conv3d(in_channels, planes * EXPANSION, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm3d(planes * EXPANSION),
            )
        first = ResNeXtBottleneck3d(in_channels, planes, stride, downsample)
        rest = [ResNeXtBottleneck3d(planes * EXPANSION, planes, 1, None) for _ in range(blocks - 1)]
        return nn.Sequential(first, *rest)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(clips))))  # (B, 64, T / 2, H / 4, W / 4)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (B, 2048, T / 16, H / 32, W / 32)
        return self.avgpool(x).flatten(1)  # (B, 2048)


def resnext101_3d(num_classes: int = 400) -> ResNeXt3d:
    """The 3D ResNeXt-101 (cardinality 32, shortcut B) of `resnext-101-kinetics.pth`, untrained."""
    return ResNeXt3d(RESNEXT101_LAYERS, num_classes)


def unwrap_state_dict(checkpoint: object) -> dict[str, torch.Tensor]:
    """The state dict of a kenshohara checkpoint ({'state_dict': ...}, or a bare state dict), without `module.`."""
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError("expected {'state_dict': {name: tensor}} as 3D-ResNets-PyTorch saves it")
    return {name.removeprefix("module."): value for name, value in state.items()}


def load_kinetics_checkpoint(model: ResNeXt3d, path: Path) -> None:
    """Load `resnext-101-kinetics.pth` (or another checkpoint of the same network) strictly into `model`."""
    what = f"{path} is not a 3D ResNeXt-101 Kinetics checkpoint ({CHECKPOINT_NAME})"
    try:
        state = unwrap_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as error:  # not a checkpoint fails in many ways (pickle, zip, layout)
        raise VlkitError(f"{what}: {str(error).splitlines()[0][:300]}") from error
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    misshapen = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
                 for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or misshapen:
        problems = {"missing": missing, "unexpected": unexpected, "misshapen": misshapen}
        listed = "; ".join(f"{len(keys)} {kind}: {', '.join(keys[:3])}" for kind, keys in problems.items() if keys)
        raise VlkitError(f"{what}: {listed}")
    model.load_state_dict(state)  # a state dict without metadata: BatchNorm adds num_batches_tracked
