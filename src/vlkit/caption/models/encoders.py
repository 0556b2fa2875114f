"""The image encoder of every captioning model: a CNN that turns uint8 images into a G x G grid of region vectors.

A torchvision ResNet (the `encoder` config section picks which) without its pooling and classifier,
then adaptive average pooling to the model's grid, as sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning
builds its `Encoder`: pixels / 255, ImageNet mean/std, `resnet` = the ResNet's children up to its last
stage, `adaptive_pool` to G x G. The attribute names give that tutorial's checkpoint keys
(`encoder.resnet.4.0.conv1.weight`, ...). A frozen ResNet's output can be computed once and read back
(`from_features`: the rows `vlkit caption prepare --features` stores). With `fine_tune` the ResNet's stages from `fine_tune_from`
on train (2: layer2..layer4, the tutorial's `children()[5:]`) at their own learning rate `lr`; the
rest stays frozen. Or `small_cnn`: vlkit's small CNN (`vlkit.vision.small_cnn`), trained end to end,
for tests and synthetic data.

Departure from the tutorial: the tutorial puts its whole encoder in train mode, so the running
statistics of every BatchNorm layer drift with each training batch even when no encoder weight
trains. Here the BatchNorm layers of frozen stages stay in eval mode (`ImageEncoder.train`), so a
frozen stage computes exactly what its pretrained weights compute.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from vlkit.core.errors import InvalidValue, VlkitError
from vlkit.core.validation import check_choice, check_positive, check_positive_ints
from vlkit.features.image import BACKBONES
from vlkit.vision.small_cnn import SmallCNN

SMALL_CNN = "small_cnn"
WEIGHTS_TORCHVISION, WEIGHTS_NONE = "torchvision", "none"
RESNET_STAGES = (1, 2, 3, 4)  # layer1..layer4; layer k is child 3 + k of the ResNet (after conv1, bn1, relu, maxpool)
GROUPS = 8  # GroupNorm groups of each small-CNN stage (SmallCNN's default)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class EncoderConfig:
    """The `encoder` config section: which CNN encodes the images, its starting weights, and what of it trains.

    backbone: resnet101 | resnet152 | resnet50 | resnet18 | small_cnn.
    weights: "torchvision" (torchvision's ImageNet IMAGENET1K_V1 file in the torch hub cache, never downloaded),
      a path to a .pth state dict of the torchvision ResNet (or a dict holding it under "state_dict"), or
      "none" (random initialisation: tests, synthetic data). small_cnn has no pretrained weights and always
      starts from random ones.
    fine_tune: train the ResNet's stages from `fine_tune_from` (1..4, layer1..layer4) on; frozen otherwise.
    lr: the learning rate of the encoder parameters that train.
    small_cnn_channels: the widths of small_cnn's stages (each halves the image side).

    The defaults are the embedded default's (`vlkit caption train` with no config: a small CNN trained from
    scratch on the synthetic shapes set); the COCO recipes (configs/caption/) name the papers' ResNets, the
    ImageNet weights and the tutorial's encoder learning rate 1e-4.
    """

    backbone: str = SMALL_CNN
    weights: str = WEIGHTS_NONE
    fine_tune: bool = False
    fine_tune_from: int = 2
    lr: float = 1e-3
    small_cnn_channels: list[int] = field(default_factory=lambda: [32, 64, 128])

    def __post_init__(self) -> None:
        check_choice(self, "backbone", (*BACKBONES, SMALL_CNN))
        if not isinstance(self.weights, str) or not self.weights:
            raise InvalidValue("weights", self.weights, f'"{WEIGHTS_TORCHVISION}", "{WEIGHTS_NONE}" or a .pth file')
        if self.backbone == SMALL_CNN and self.weights not in (WEIGHTS_TORCHVISION, WEIGHTS_NONE):
            raise InvalidValue("weights", self.weights, f'"{WEIGHTS_NONE}" for backbone {SMALL_CNN} (it has no '
                               "pretrained weights)")
        check_choice(self, "fine_tune", (True, False))
        if isinstance(self.fine_tune_from, bool) or self.fine_tune_from not in RESNET_STAGES:
            raise InvalidValue("fine_tune_from", self.fine_tune_from, "1, 2, 3 or 4 (the first ResNet stage trained)")
        check_positive(self, "lr")
        check_positive_ints(self, "small_cnn_channels")
        if any(width > GROUPS and width % GROUPS for width in self.small_cnn_channels):
            raise InvalidValue("small_cnn_channels", self.small_cnn_channels,
                               f"widths below {GROUPS} or multiples of {GROUPS} (each stage's GroupNorm has "
                               f"{GROUPS} groups)")


class ImageEncoder(nn.Module):
    """uint8 images (B, 3, S, S) -> region vectors (B, P, D), P = grid_size ** 2 in row-major grid order.

    `out_dim` is D (2048 for ResNet-50/101/152, 512 for ResNet-18, the last width of a small CNN).
    A ResNet encoder holds `resnet` (its children up to the last stage) and `adaptive_pool`; a small CNN
    encoder holds `cnn`. Build one with `build_encoder`, which also loads the pretrained weights.
    """

    def __init__(self, config: EncoderConfig, grid_size: int):
        super().__init__()
        self.grid_size = grid_size
        self.is_resnet = config.backbone != SMALL_CNN
        if self.is_resnet:
            builder, _, self.out_dim = BACKBONES[config.backbone]
            self.resnet = nn.Sequential(*list(builder(weights=None).children())[:-2])
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
            # children before this index are frozen; len(children) when nothing trains
            self.first_trained = 3 + config.fine_tune_from if config.fine_tune else len(self.resnet)
            for index, child in enumerate(self.resnet):
                child.requires_grad_(index >= self.first_trained)
        else:
            self.cnn = SmallCNN(config.small_cnn_channels, GROUPS)
            self.out_dim = self.cnn.out_channels
        self.adaptive_pool = nn.AdaptiveAvgPool2d((grid_size, grid_size))

    def frozen_stages(self) -> list[nn.Module]:
        """The ResNet children that never train, input side first (none for a small CNN)."""
        return list(self.resnet)[:self.first_trained] if self.is_resnet else []

    def trained_parameters(self) -> list[nn.Parameter]:
        """The encoder parameters that train (to be given the learning rate `lr`); empty when it is frozen."""
        return [parameter for parameter in self.parameters() if parameter.requires_grad]

    def train(self, mode: bool = True) -> "ImageEncoder":
        """Set train/eval mode; frozen stages (their BatchNorm statistics) stay in eval mode either way."""
        super().train(mode)
        for stage in self.frozen_stages():
            stage.eval()
        return self

    def grid(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (B, 3, S, S) -> the CNN's last feature map (B, D, S', S'); frozen stages run without
        autograd, since no gradient flows into them or through them to anything that trains."""
        if not self.is_resnet:
            return self.cnn(images)
        pixels = (images.float() / 255 - self.mean) / self.std
        stages = list(self.resnet)
        with torch.no_grad():
            for stage in stages[:self.first_trained]:
                pixels = stage(pixels)
        for stage in stages[self.first_trained:]:
            pixels = stage(pixels)
        return pixels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (B, 3, S, S) -> (B, G * G, D)."""
        pooled = self.adaptive_pool(self.grid(images))  # (B, D, G, G)
        return pooled.flatten(2).transpose(1, 2)  # (B, G * G, D)

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Stored grid features (B, G * G, D) (float16 rows of `vlkit caption prepare --features`) -> the same as
        float32: what `forward` returns for the images they were computed from. Only a frozen ResNet computes
        fixed features; a wrong shape or an encoder that trains is a VlkitError."""
        if not self.is_resnet or self.trained_parameters():
            raise VlkitError("stored features replace a frozen ResNet encoder only: set encoder.fine_tune=false and a "
                             "ResNet encoder.backbone, or leave data.features unset to train on the images")
        expected = (self.grid_size ** 2, self.out_dim)
        if features.dim() != 3 or tuple(features.shape[1:]) != expected:
            raise VlkitError(f"stored features of shape {tuple(features.shape)} do not fit this encoder: it gives "
                             f"(batch, {expected[0]}, {expected[1]}) ({self.grid_size} x {self.grid_size} regions of "
                             f"{self.out_dim} channels)")
        return features.float()


def torchvision_weights_file(backbone: str) -> Path:
    """Where torchvision keeps the ImageNet IMAGENET1K_V1 weights of `backbone` in the torch hub cache."""
    url = BACKBONES[backbone][1].url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def encoder_weights_file(config: EncoderConfig) -> Path | None:
    """The file a fresh encoder of `config` starts from (None: random weights); a missing file is a VlkitError,
    raised before any work starts."""
    if config.backbone == SMALL_CNN or config.weights == WEIGHTS_NONE:
        return None
    if config.weights == WEIGHTS_TORCHVISION:
        path = torchvision_weights_file(config.backbone)
        if not path.is_file():
            raise VlkitError(f"no ImageNet weights for encoder.backbone={config.backbone}: {path} is missing. Place "
                             f"torchvision's {path.name} there (vlkit never downloads), set encoder.weights to a "
                             f".pth file, or encoder.weights=none for random weights")
    else:
        path = Path(config.weights)
        if not path.is_file():
            raise VlkitError(f"encoder.weights={config.weights}: no such file")
    return path


def read_resnet_state(config: EncoderConfig) -> dict[str, torch.Tensor]:
    """The torchvision state dict the `weights` of `config` name (a missing or unreadable file is a VlkitError)."""
    path = encoder_weights_file(config)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # not a checkpoint at all fails in many ways (pickle, zip, type errors)
        raise VlkitError(f"{path} is not a {config.backbone} state dict: {str(error).splitlines()[0][:300]}") from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise VlkitError(f"{path} holds a {type(state).__name__}, not a {config.backbone} state dict")
    return state


def build_encoder(config: EncoderConfig, grid_size: int, pretrained: bool) -> ImageEncoder:
    """The encoder of `config` pooling to a grid_size x grid_size grid; with `pretrained` (and weights not "none")
    a ResNet starts from its weights file, otherwise from random weights and no file is read."""
    encoder = ImageEncoder(config, grid_size)
    if pretrained and encoder.is_resnet and config.weights != WEIGHTS_NONE:
        state = read_resnet_state(config)
        resnet = BACKBONES[config.backbone][0](weights=None)
        try:
            resnet.load_state_dict(state)
        except RuntimeError as error:
            raise VlkitError(f"encoder.weights: not a {config.backbone} state dict: "
                             f"{' '.join(str(error).split())[:400]}") from error
        encoder.resnet.load_state_dict(nn.Sequential(*list(resnet.children())[:-2]).state_dict())
    return encoder
