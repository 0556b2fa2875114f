"""Captions per second of vlkit's batched beam search against the tutorial's per-image beam search, same weights.

The decoder is vlkit's show_attend_tell at the PyTorch captioning tutorial's sizes (sgrvinod/a-PyTorch-Tutorial-
to-Image-Captioning, `models.py` DecoderWithAttention): embeddings 512, attention 512, LSTM 512, encoder output
196 regions x 2048 channels, 9490 words; the encoder output is given directly (random (B, 196, 2048)
tensors: the CNN is the same in both and left out). Weights are random (seeded); so that captions end as a
trained decoder's do, both add end_bias + pace * steps so far to the `<end>` logit, with a pace of its own
for each image (from its encoder output), giving captions of 7-20 words (median 10) on the default images.

- reference: tests/caption/tutorial_beam_search.py (the tutorial's loop transcribed), image by image as the
  tutorial's eval.py runs it, over the tutorial decoder's step: the attention projects the encoder output
  of every beam at every step, as its `Attention.forward` does.
- vlkit: `vlkit.caption.decoding.beam_search` over `--batch-size` images at once with vlkit's model (the
  encoder output's attention projection computed once per batch, each image's output read once per step
  for all of its beams, the first step run on one row per image, the attention's (B, k, P, A) sum formed
  a few images at a time in one reused buffer).
The captions of the images both decode must be identical (the script exits 1 otherwise).

Rounds alternate the two; reported: the median captions/s of each and the ratio of the medians.

Usage: python benchmarks/caption_beam_search.py [--beam-size 3] [--max-length 50] [--batch-size 50]
       [--images 100] [--reference-images 10] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

import torch

from vlkit.caption.decoding import beam_search
from vlkit.caption.models.base import TensorDict, beams_per_image
from vlkit.caption.models.encoders import EncoderConfig, build_encoder
from vlkit.caption.models.show_attend_tell import ShowAttendTell, ShowAttendTellOptions

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("tutorial_beam_search",
                                               REPO / "tests" / "caption" / "tutorial_beam_search.py")
tutorial = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tutorial)

VOCAB, REGIONS, ENCODER_DIM = 9490, 196, 2048
START, END = VOCAB - 2, VOCAB - 1        # the tutorial's word map puts <start>, <end> last


class PacedShowAttendTell(ShowAttendTell):
    """vlkit's show_attend_tell at the tutorial's sizes, whose `<end>` logit grows by an image's pace each step."""

    def __init__(self, end_bias: float = -1.0, end_growth: float = 0.6):
        encoder = build_encoder(EncoderConfig(small_cnn_channels=[8, 16, ENCODER_DIM]), 14, pretrained=False)
        super().__init__(ShowAttendTellOptions(), VOCAB, encoder)  # the encoder is not run: outputs are given
        self.end_bias, self.end_growth = end_bias, end_growth

    def pace(self, encoded: torch.Tensor) -> torch.Tensor:
        """How fast <end> grows likelier for each image (B,): end_growth x the mean of its encoder output."""
        return self.end_growth * encoded.mean(dim=(1, 2))

    def start(self, encoded: torch.Tensor) -> tuple[TensorDict, TensorDict]:
        """vlkit's start, plus the image's pace (B,) in the context and the steps taken (B,) in the state."""
        context, state = super().start(encoded)
        return {**context, "pace": self.pace(encoded)}, {**state, "steps": torch.zeros(len(encoded))}

    def step(self, context: TensorDict, state: TensorDict, words: torch.Tensor
             ) -> tuple[torch.Tensor, TensorDict, Optional[torch.Tensor]]:
        """vlkit's step with the paced `<end>` logit: words (B k,) -> logits (B k, V), state, attention (B k, P)."""
        logits, new_state, alpha = super().step(context, state, words)
        beams = beams_per_image(len(context["pace"]), len(words))
        logits[:, END] += self.end_bias + context["pace"].repeat_interleave(beams) * state["steps"]
        return logits, {**new_state, "steps": state["steps"] + 1}, alpha


def tutorial_step(model: PacedShowAttendTell):
    """The tutorial decoder's step as its beam search runs it (on the same weights): state encoder_out
    (s, P, 2048), h, c, pace, steps."""
    decoder = model.decoder

    def step(state: TensorDict, words: torch.Tensor):
        encoder_out, h, c = state["encoder_out"], state["h"], state["c"]
        att1 = decoder.attention.encoder_att(encoder_out)           # every beam, every step
        att2 = decoder.attention.decoder_att(h)
        att = decoder.attention.full_att(torch.relu(att1 + att2.unsqueeze(1))).squeeze(2)
        alpha = torch.softmax(att, dim=1)
        awe = (encoder_out * alpha.unsqueeze(2)).sum(dim=1)
        awe = torch.sigmoid(decoder.f_beta(h)) * awe
        h, c = decoder.decode_step(torch.cat([decoder.embedding(words), awe], dim=1), (h, c))
        logits = decoder.fc(h)
        logits[:, END] += model.end_bias + state["pace"] * state["steps"]
        return logits, {**state, "h": h, "c": c, "steps": state["steps"] + 1}, alpha
    return step


@torch.no_grad()
def reference_captions(model: PacedShowAttendTell, encoded: torch.Tensor, beam_size: int,
                       max_length: int) -> list[list[int]]:
    """The tutorial's beam search image by image -> each caption's words (no <start>, <end>)."""
    step = tutorial_step(model)
    captions = []
    for image in encoded:
        encoder_out = image.unsqueeze(0)
        mean = encoder_out.mean(1)
        state = {"encoder_out": encoder_out, "h": model.decoder.init_h(mean), "c": model.decoder.init_c(mean),
                 "pace": model.pace(encoder_out), "steps": torch.zeros(1)}
        seq, _, _ = tutorial.tutorial_beam_search(step, state, START, END, beam_size, step_limit=max_length)
        captions.append(seq[1:-1])
    return captions


def vlkit_captions(model: PacedShowAttendTell, encoded: torch.Tensor, beam_size: int, max_length: int,
                   batch_size: int) -> list[list[int]]:
    """vlkit's batched beam search, `batch_size` images at a time -> each caption's words."""
    captions = []
    for first in range(0, len(encoded), batch_size):
        decoded = beam_search(model, encoded[first:first + batch_size], START, END, beam_size, max_length)
        captions.extend(row[:length].tolist() for row, length in zip(decoded.tokens, decoded.lengths.tolist()))
    return captions


def random_images(count: int) -> torch.Tensor:
    """Encoder outputs (count, 196, 2048): ReLU of normal noise, each image scaled by its own factor in
    [0.25, 1.1) so that images differ in <end> pace."""
    generator = torch.Generator().manual_seed(1)
    scales = torch.rand(count, 1, 1, generator=generator) * 0.85 + 0.25
    return torch.randn(count, REGIONS, ENCODER_DIM, generator=generator).relu() * scales


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beam-size", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--images", type=int, default=100, help="images vlkit decodes per round")
    parser.add_argument("--reference-images", type=int, default=10, help="images the reference decodes per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = PacedShowAttendTell().eval()
    encoded = random_images(args.images)
    shared = min(args.reference_images, args.images)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads; k={args.beam_size}, max_length={args.max_length}, "
          f"vlkit batch {args.batch_size}", file=sys.stderr)

    rates: dict[str, list[float]] = {"reference": [], "vlkit": []}
    mismatches = 0
    for round_index in range(args.rounds):
        order = ["reference", "vlkit"] if round_index % 2 == 0 else ["vlkit", "reference"]
        for name in order:
            began = time.perf_counter()
            if name == "reference":
                reference = reference_captions(model, encoded[:args.reference_images], args.beam_size,
                                               args.max_length)
                count = len(reference)
            else:
                batched = vlkit_captions(model, encoded, args.beam_size, args.max_length, args.batch_size)
                count = len(batched)
            rates[name].append(count / (time.perf_counter() - began))
        mismatches += sum(a != b for a, b in zip(reference[:shared], batched[:shared]))
        print(f"round {round_index}: reference {rates['reference'][-1]:.2f} captions/s, "
              f"vlkit {rates['vlkit'][-1]:.2f} captions/s", file=sys.stderr)

    lengths = [len(caption) for caption in batched]
    reference_rate, vlkit_rate = statistics.median(rates["reference"]), statistics.median(rates["vlkit"])
    print(f"caption words: min {min(lengths)}, median {statistics.median(lengths)}, max {max(lengths)}")
    print(f"reference (per image, tutorial): {reference_rate:.2f} captions/s (median of {args.rounds})")
    print(f"vlkit beam_search (batch {args.batch_size}): {vlkit_rate:.2f} captions/s (median of {args.rounds})")
    print(f"speed-up: {vlkit_rate / reference_rate:.1f}x")
    print(f"identical captions: {shared * args.rounds - mismatches}/{shared * args.rounds}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
