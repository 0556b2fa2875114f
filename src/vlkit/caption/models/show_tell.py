"""Show and Tell: A Neural Image Caption Generator (Vinyals, Toshev, Bengio, Erhan, CVPR 2015), NIC.

The image, one global vector from the CNN (the encoder average-pooled to a 1 x 1 grid), is mapped
by a linear layer + BatchNorm1d to the word-embedding size and fed to a one-layer LSTM as its first
input, before `<start>`, and never again (`image_as: input`, the paper's choice: feeding it at every
step overfitted). `image_as: state` instead starts the LSTM from the image: c_0 = the image vector
(of the hidden size), h_0 = tanh(c_0). Then word embeddings (512) -> LSTM (512) -> dropout -> linear
to the vocabulary. The paper's reference implementation is TensorFlow's im2txt; the image layer
(linear + BatchNorm1d) follows the common PyTorch version of the model. Reported (paper, COCO, its
own 4k-image test split): BLEU-4 27.7, METEOR 23.7, CIDEr 85.5.

Teacher forcing runs the whole caption through `nn.LSTM` at once; decoding runs the same LSTM one
word at a time (`step`), with equal outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from vlkit.caption.models.base import CaptionModel, TensorDict
from vlkit.caption.models.encoders import EncoderConfig, ImageEncoder, build_encoder
from vlkit.caption.models.registry import register_model
from vlkit.core.validation import check_choice, check_fraction, check_positive_int
from vlkit.nn.dropout import Dropout

IMAGE_AS = ("input", "state")


@dataclass
class ShowTellOptions:
    """Options of `show_tell`. `image_as`: "input" (the image is the LSTM's first input, as the paper) or
    "state" (the image gives the LSTM's initial state)."""

    embed_dim: int = 512
    hidden_dim: int = 512
    dropout: float = 0.5
    image_as: str = "input"

    def __post_init__(self) -> None:
        check_positive_int(self, "embed_dim", "hidden_dim")
        check_fraction(self, "dropout", low_open=False)
        check_choice(self, "image_as", IMAGE_AS)


class ShowTell(CaptionModel):
    """NIC: `encoder` (grid 1) -> `image_embed` + `image_norm` -> `lstm` over [image,] word `embedding`s -> `fc`."""

    attends = False

    def __init__(self, options: ShowTellOptions, vocab_size: int, encoder: ImageEncoder):
        super().__init__()
        self.vocab_size = vocab_size
        self.image_as = options.image_as
        image_dim = options.embed_dim if options.image_as == "input" else options.hidden_dim
        self.encoder = encoder
        self.image_embed = nn.Linear(encoder.out_dim, image_dim)
        self.image_norm = nn.BatchNorm1d(image_dim)
        self.embedding = nn.Embedding(vocab_size, options.embed_dim)
        self.lstm = nn.LSTM(options.embed_dim, options.hidden_dim, batch_first=True)
        self.dropout = Dropout(options.dropout)
        self.fc = nn.Linear(options.hidden_dim, vocab_size)

    def start(self, encoded: torch.Tensor) -> tuple[TensorDict, TensorDict]:
        """encoded (B, 1, D) -> no context, state {"h", "c"} (B, H) after reading the image."""
        image = self.image_norm(self.image_embed(encoded.mean(dim=1)))  # (B, E) or (B, H)
        if self.image_as == "state":
            return {}, {"h": torch.tanh(image), "c": image}
        _, (h, c) = self.lstm(image[:, None, :])  # the image step, from the zero state
        return {}, {"h": h[0], "c": c[0]}

    def step(self, context: TensorDict, state: TensorDict, words: torch.Tensor
             ) -> tuple[torch.Tensor, TensorDict, Optional[torch.Tensor]]:
        """words (B,) -> logits (B, V), the new state, None (no attention)."""
        output, (h, c) = self.lstm(self.embedding(words)[:, None, :], (state["h"][None], state["c"][None]))
        return self.fc(self.dropout(output[:, 0])), {"h": h[0], "c": c[0]}, None

    def forward(self, images: torch.Tensor, captions: torch.Tensor, lengths: torch.Tensor) -> TensorDict:
        """Teacher forcing (see `CaptionModel.forward`): logits (B, L, V), the L steps in one `nn.LSTM` call."""
        _, state = self.start(self.encode(images))
        steps = int(lengths.max()) - 1
        outputs, _ = self.lstm(self.embedding(captions[:, :steps]), (state["h"][None], state["c"][None]))
        return {"logits": self.fc(self.dropout(outputs))}


@register_model("show_tell", ShowTellOptions)
def build_show_tell(options: ShowTellOptions, vocab_size: int, encoder: EncoderConfig,
                    pretrained: bool) -> CaptionModel:
    """Show and Tell over `vocab_size` words on the globally pooled encoder output."""
    return ShowTell(options, vocab_size, build_encoder(encoder, 1, pretrained))
