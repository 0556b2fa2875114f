"""Run a feature-reading model on raw images: a small CNN trained end to end makes its features.

Models such as VQA's `mcan_small` or `saaa` read precomputed features (B, K, D) with a mask (B, K).
On a dataset that yields images (easy-VQA), `EndToEndFeatures` puts a `SmallCNN` in front of
them: each distinct image of the batch is encoded once into an h x w grid whose cells become
the K = h * w feature rows (all valid), trained together with the model. The CNN's last stage
width must equal the model's `feature_dim`.
"""

from __future__ import annotations

import torch
from torch import nn

from vlkit.core.errors import VlkitError
from vlkit.vision.small_cnn import SmallCNN


def check_cnn_width(feature_dim: int, cnn_channels: list[int]) -> None:
    """The CNN's last stage width must equal the width D of the features the model reads."""
    if feature_dim != cnn_channels[-1]:
        raise VlkitError(f"image_encoder.cnn_channels ends with {cnn_channels[-1]} channels but the model reads "
                         f"features of D={feature_dim}: set model.feature_dim={cnn_channels[-1]}")


class EndToEndFeatures(nn.Module):
    """images (U, 3, H, W) + image_index (B,) + the wrapped model's other inputs -> the wrapped model's outputs.

    Attention over the K feature rows, (B, G, K) or (B, K), comes back as maps (B, G, h, w).
    """

    def __init__(self, model: nn.Module, feature_dim: int, cnn_channels: list[int]):
        super().__init__()
        check_cnn_width(feature_dim, cnn_channels)
        self.cnn = SmallCNN(cnn_channels)
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """batch["images"] (U, 3, H, W), batch["image_index"] (B,) into U, plus the model's other inputs ->
        the model's outputs, any "attention" reshaped to (B, G, h, w) over the CNN grid."""
        grid = self.cnn(batch["images"])  # (U, C, h, w)
        height, width = grid.shape[-2:]
        cells = grid.flatten(2).transpose(1, 2)[batch["image_index"]]  # (B, h * w, C)
        mask = torch.ones(cells.shape[:2], dtype=torch.bool, device=cells.device)  # (B, K)
        outputs = dict(self.model({**batch, "features": cells, "feature_mask": mask}))
        if "attention" in outputs:
            attention = outputs["attention"]  # (B, G, K) or (B, K)
            outputs["attention"] = attention.reshape(len(cells), -1, height, width)  # (B, G, h, w)
        return outputs
