"""Training steps of vlkit's show_attend_tell against the tutorial's (sgrvinod) transcription, on one batch.

Both models hold the same weights (vlkit's state dict loaded into benchmarks/reference_caption_training.py's
modules): a frozen ResNet-101 (random weights: speed does not depend on them) pooled to 14 x 14, the
tutorial's decoder (512/512/512, dropout 0.5) over a COCO-sized vocabulary of 9,490 words. Batch:
32 images of 256 x 256 (the tutorial's size), captions of 3-52 tokens (seeded). The reference step
reads normalised float images (its loader normalises them); vlkit's reads uint8 images and normalises
inside. vlkit's step: `model(images, captions, lengths)`, cross-entropy over the valid steps +
alpha_c x the doubly stochastic term (`vlkit.caption.module`), gradients clipped at 5 by value, Adam.

Rounds alternate the order (reference first in even rounds); each times one step of each after one
untimed warm-up step per model. Reported: median seconds per step of each and the median of the
per-round ratios reference / vlkit (the speed-up).

Usage: python benchmarks/caption_training_speed.py [--rounds 3] [--batch-size 32] [--image-size 256]
       [--max-length 52] [--vocab 9490] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from reference_caption_training import (ReferenceDecoderWithAttention, ReferenceEncoder,  # noqa: E402
                                        tutorial_training_step)

from vlkit.caption.models import MODELS  # noqa: E402
from vlkit.caption.models.encoders import EncoderConfig  # noqa: E402
from vlkit.caption.models.show_attend_tell import ShowAttendTellOptions  # noqa: E402
from vlkit.caption.module import attention_regularisation, caption_targets  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def batch(size: int, image_size: int, max_length: int, vocab: int) -> tuple[torch.Tensor, ...]:
    """uint8 images (B, 3, S, S), captions (B, max_length) 0-padded, lengths (B,) in 3..max_length."""
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(3, max_length + 1, (size,), generator=g)
    lengths[0] = max_length
    captions = torch.randint(1, vocab, (size, max_length), generator=g)
    captions[torch.arange(max_length)[None, :] >= lengths[:, None]] = 0
    images = torch.randint(0, 256, (size, 3, image_size, image_size), generator=g, dtype=torch.uint8)
    return images, captions, lengths


def vlkit_training_step(model, optimizer, images, captions, lengths, alpha_c: float = 1.0) -> float:
    """vlkit's loss on the model's teacher-forced outputs, backward, clip at 5 by value, Adam."""
    outputs = model(images, captions, lengths)
    targets, valid = caption_targets(captions, lengths, outputs["logits"].shape[1])
    loss = F.cross_entropy(outputs["logits"][valid], targets[valid])
    loss = loss + alpha_c * attention_regularisation(outputs["attention"], valid)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_value_([p for p in model.parameters() if p.requires_grad], 5.0)
    optimizer.step()
    return loss.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--max-length", type=int, default=52)
    parser.add_argument("--vocab", type=int, default=9490)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = MODELS.get("show_attend_tell").builder(ShowAttendTellOptions(), args.vocab,
                                                  EncoderConfig(backbone="resnet101", weights="none"), False).train()
    encoder, decoder = ReferenceEncoder().train(), ReferenceDecoderWithAttention(args.vocab).train()
    encoder.load_state_dict(model.encoder.state_dict())
    decoder.load_state_dict(model.decoder.state_dict())
    ours = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=4e-4)
    theirs = torch.optim.Adam([p for p in decoder.parameters() if p.requires_grad], lr=4e-4)

    images, captions, lengths = batch(args.batch_size, args.image_size, args.max_length, args.vocab)
    normalised = (images.float() / 255 - MEAN) / STD
    steps = {"reference": lambda: tutorial_training_step(encoder, decoder, theirs, normalised, captions,
                                                         lengths[:, None]),
             "vlkit": lambda: vlkit_training_step(model, ours, images, captions, lengths)}
    for step in steps.values():
        step()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(args.rounds):
        for name in (["reference", "vlkit"] if round_index % 2 == 0 else ["vlkit", "reference"]):
            start = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - start)
    ratios = [r / v for r, v in zip(times["reference"], times["vlkit"])]
    print(f"show_attend_tell training step, batch {args.batch_size}, {args.image_size}px, captions <= "
          f"{args.max_length} tokens, vocab {args.vocab}, {args.threads} threads, torch {torch.__version__}")
    for name, values in times.items():
        print(f"  {name:9s} median {statistics.median(values):7.2f} s/step  ({', '.join(f'{v:.2f}' for v in values)})")
    print(f"  speed-up (reference / vlkit, median of rounds): {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
