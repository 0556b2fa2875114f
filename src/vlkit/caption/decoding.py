"""Batched beam search and greedy decoding over any `CaptionModel` (see `vlkit.caption.models.base`).

`beam_search` gives, image for image, the caption of the PyTorch captioning tutorial's per-image beam
search (sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning, `caption.py` caption_image_beam_search and
`eval.py` evaluate), for a whole batch at once:
- k beams start from one `<start>` row: the first step runs and extends only that row of each image;
- a candidate's score is its beam's running score plus the log-softmax of the step's logits; the k
  best of the k x V candidates of an image are kept (at the first step, the k best words);
- a candidate whose word is `<end>` leaves the beam for the completed set, and the image extends one
  beam fewer from then on; an image is done when all of its k beams have ended;
- the caption is the completed sequence with the highest summed log-probability (`<end>` included),
  the first one completed among equal scores.

Length limit: the tutorial runs steps 1, 2, ... and stops after step 51 (`if step > 50: break`
follows the step), so a completed caption has at most 50 words followed by `<end>`. `max_length` is
that number of words: the decoder runs at most `max_length + 1` steps, and at the last one only a
beam that ends counts. Where the tutorial then crashes (no beam of the image ever emitted `<end>`),
`beam_search` returns the best beam after step `max_length` (`max_length` words, no `<end>`, its
score without an `<end>` term).

`length_normalization` alpha > 0 ranks the completed captions by score / (words + 1) ** alpha (the
`+ 1` counts the scored `<end>`); alpha = 0 is the tutorial's raw score. The returned score is the raw
sum in both cases.

Batching: each image has one row at the first step and k rows from the second (B, then B * k); its live
beams are its first `remaining` rows
(best first, as the tutorial keeps them), and the other rows score -inf, so they are never chosen:
no Python loop runs over images. The model's context keeps one row per image, which the model reads
for all k beams of the image (`vlkit.caption.models.base`); the state is reordered with
`select_rows` each step. Once the finished images are a quarter of those in the
batch or more, their rows are dropped from context and state (`select_rows`), so that short captions do
not pay for the batch's longest. Words and attention are kept as back-pointers per step and read
back once at the end. The loop stops when every image is done. Decoding runs without gradients; put
the model in eval mode first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from vlkit.caption.data.word_map import WordMap
from vlkit.caption.models.base import CaptionModel, select_rows


@dataclass
class DecodedCaptions:
    """Decoded captions of B images.

    tokens: (B, L) int64 word indices without `<start>` and `<end>`, padded with 0 (`<pad>`); L = max(lengths).
    lengths: (B,) int64 number of words of each caption.
    scores: (B,) float summed log-probability of each caption's words, plus that of `<end>` when emitted.
    attention: (B, L, P) the attention weights of the step that produced each word (zeros past a caption's
        end), or None for a model without attention.
    """

    tokens: Tensor
    lengths: Tensor
    scores: Tensor
    attention: Optional[Tensor]


def caption_texts(decoded: DecodedCaptions, word_map: WordMap) -> list[str]:
    """The B captions as strings of space-separated words (`WordMap.words`: `<start>`/`<pad>` left out)."""
    return [" ".join(word_map.words(row[:length].tolist()))
            for row, length in zip(decoded.tokens, decoded.lengths.tolist())]


def _check_limits(beam_size: int, max_length: int) -> None:
    if beam_size < 1:
        raise ValueError(f"beam_size must be 1 or more, got {beam_size}")
    if max_length < 1:
        raise ValueError(f"max_length must be 1 or more, got {max_length}")


@torch.no_grad()
def beam_search(model: CaptionModel, encoded: Tensor, start: int, end: int, beam_size: int = 3,
                max_length: int = 50, length_normalization: float = 0.0) -> DecodedCaptions:
    """Beam search for B images at once, caption for caption the tutorial's (see the module docstring).

    encoded: (B, P, D) encoder output. `start`/`end`: the word map's `<start>`/`<end>` indices.
    max_length: most words of a caption (the tutorial's 50). -> DecodedCaptions of B captions.
    """
    _check_limits(beam_size, max_length)
    batch, k, device = encoded.shape[0], beam_size, encoded.device
    context, state = model.start(encoded)                                  # (B, ...): one beam per image at step 1
    positions = torch.arange(k, device=device).unsqueeze(0)                # (1, k)
    minus_inf = torch.tensor(float("-inf"), device=device)

    # the A images still decoding (all B at first) and, for each, its beams: state row a * beams + j, context row a
    active = torch.arange(batch, device=device)                            # (A,) image of each
    scores = torch.zeros(batch, 1, device=device)                          # (A, beams) running score; -inf: no beam
    remaining = torch.full((batch, 1), k, dtype=torch.long, device=device)   # (A, 1) beams each still extends
    words = torch.full((batch,), start, dtype=torch.long, device=device)   # (A * beams,): beams = 1, then k
    # per image (B, ...): completed captions in the order they ended; column k takes the other candidates' writes
    done_scores = torch.full((batch, k + 1), float("-inf"), device=device)
    done_lengths = torch.zeros(batch, k + 1, dtype=torch.long, device=device)   # words before <end>
    done_rows = torch.zeros(batch, k + 1, dtype=torch.long, device=device)      # beam that ended, after step `length`
    done_count = torch.zeros(batch, 1, dtype=torch.long, device=device)
    fallback_scores = torch.zeros(batch, device=device)                    # beam 0 after step max_length
    word_history, parent_history, attention_history = [], [], []   # per step: (B, k), (B, k), (B, k, P)

    for step in range(1, max_length + 2):
        logits, state, attention = model.step(context, state, words)       # (A * beams, V), ..., (A * beams, P)
        images, vocab = active.shape[0], logits.shape[1]
        beams = scores.shape[1]
        if vocab < k:
            raise ValueError(f"beam_size {k} is larger than the vocabulary ({vocab} words)")
        log_probs = F.log_softmax(logits.float(), dim=1).view(images, beams, vocab)
        candidates = log_probs.add_(scores.unsqueeze(2)).view(images, beams * vocab)   # in place: one buffer
        top_scores, top = candidates.topk(k, dim=1)                        # (A, k) best first
        parents, new_words = top // vocab, top % vocab
        valid = positions < remaining                                     # an image takes `remaining` candidates
        ended = valid & (new_words == end)
        going = valid & ~ended

        count = done_count[active]                                         # (A, 1)
        slots = torch.where(ended, count + ended.cumsum(1) - 1, k)
        done_scores[active] = done_scores[active].scatter(1, slots, top_scores)
        done_lengths[active] = done_lengths[active].scatter(1, slots, torch.full_like(slots, step - 1))
        done_rows[active] = done_rows[active].scatter(1, slots, parents)
        ended_count = ended.sum(1, keepdim=True)
        done_count[active] = count + ended_count
        remaining = remaining - ended_count

        keep = torch.sort((~going).to(torch.uint8), dim=1, stable=True).indices   # going beams first, in order
        parents, new_words = parents.gather(1, keep), new_words.gather(1, keep)
        if step == max_length + 1:
            fallback_scores[active] = scores[:, 0]
        scores = torch.where(positions < remaining, top_scores.gather(1, keep), minus_inf)
        word_history.append(new_words.new_zeros(batch, k).index_copy_(0, active, new_words))
        parent_history.append(parents.new_zeros(batch, k).index_copy_(0, active, parents))
        if attention is not None:
            attention = attention.view(images, beams, -1)
            attention = attention.gather(1, parents.unsqueeze(2).expand(-1, -1, attention.shape[2]))
            attention_history.append(attention.new_zeros(batch, *attention.shape[1:]).index_copy_(0, active, attention))
        finished = remaining.squeeze(1) == 0                               # (A,)
        finished_count = int(finished.sum())
        if step == max_length + 1 or finished_count == images:
            break
        rows = torch.arange(images, device=device).mul_(beams).unsqueeze(1) + parents   # (A, k) rows to continue
        if finished_count * 4 >= images:   # drop finished images: a quarter or more
            kept = (~finished).nonzero().squeeze(1)                        # (A',)
            active, scores, remaining = active[kept], scores[kept], remaining[kept]
            rows, new_words = rows[kept], new_words[kept]
            context = select_rows(context, kept)
        state = select_rows(state, rows.view(-1))
        words = new_words.reshape(-1)

    done_scores, done_lengths, done_rows = done_scores[:, :k], done_lengths[:, :k], done_rows[:, :k]
    ranks = done_scores
    if length_normalization > 0:
        ranks = done_scores / (done_lengths + 1).to(done_scores.dtype).pow(length_normalization)
    best = ranks.argmax(1, keepdim=True)                                    # first of equal ranks
    completed = done_count.squeeze(1) > 0
    # an image with no completed caption ran every step: its best beam after step max_length (beam 0)
    lengths = torch.where(completed, done_lengths.gather(1, best).squeeze(1), max_length)
    rows = torch.where(completed, done_rows.gather(1, best).squeeze(1), 0)
    final_scores = torch.where(completed, done_scores.gather(1, best).squeeze(1), fallback_scores)
    tokens, chosen_attention = _backtrack(lengths, rows, word_history, parent_history, attention_history)
    return DecodedCaptions(tokens, lengths, final_scores, chosen_attention)


def _backtrack(lengths: Tensor, rows: Tensor, word_history: list[Tensor], parent_history: list[Tensor],
               attention_history: list[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
    """Read back each image's caption of lengths[b] words ending at beam rows[b] after step lengths[b].

    lengths, rows: (B,); histories: per step (B, k) words, (B, k) parent beams, (B, k, P) attention
    -> tokens (B, L) and attention (B, L, P) (None without attention history), L = max(lengths)."""
    batch, longest = lengths.shape[0], int(lengths.max()) if lengths.numel() else 0
    tokens = torch.zeros(batch, longest, dtype=torch.long, device=lengths.device)
    attention = None
    if attention_history:
        attention = attention_history[0].new_zeros(batch, longest, attention_history[0].shape[2])
    rows = rows.unsqueeze(1)                                                # (B, 1)
    for t in range(longest, 0, -1):
        inside = (t <= lengths).unsqueeze(1)                                # (B, 1) word t belongs to the caption
        tokens[:, t - 1] = torch.where(inside, word_history[t - 1].gather(1, rows), 0).squeeze(1)
        if attention is not None:
            steps = attention_history[t - 1]
            weights = steps.gather(1, rows.unsqueeze(2).expand(-1, -1, steps.shape[2])).squeeze(1)
            attention[:, t - 1] = torch.where(inside, weights, 0.0)
        rows = torch.where(inside, parent_history[t - 1].gather(1, rows), rows)
    return tokens, attention


@torch.no_grad()
def greedy_decode(model: CaptionModel, encoded: Tensor, start: int, end: int, max_length: int = 50
                  ) -> DecodedCaptions:
    """The most likely word at each step for B images at once, until `<end>` or `max_length` words.

    encoded: (B, P, D). As in `beam_search`, a caption of `max_length` words may still end with `<end>` at step
    `max_length + 1`; otherwise it stops there without an `<end>` term. Equals `beam_search` with beam_size 1.
    -> DecodedCaptions of B captions.
    """
    _check_limits(1, max_length)
    batch, device = encoded.shape[0], encoded.device
    context, state = model.start(encoded)
    words = torch.full((batch,), start, dtype=torch.long, device=device)
    scores = torch.zeros(batch, device=device)
    lengths = torch.zeros(batch, dtype=torch.long, device=device)
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    tokens, attentions = [], []                                             # per step: (B,), (B, P)
    for step in range(1, max_length + 2):
        logits, state, attention = model.step(context, state, words)       # (B, V), ..., (B, P)
        best_log_probs, words = F.log_softmax(logits.float(), dim=1).max(1)
        ended = words == end
        if step == max_length + 1:                                          # only an <end> counts now
            scores = torch.where(~finished & ended, scores + best_log_probs, scores)
            break
        scores = torch.where(finished, scores, scores + best_log_probs)
        emits = ~finished & ~ended
        tokens.append(torch.where(emits, words, 0))
        if attention is not None:
            attentions.append(torch.where(emits.unsqueeze(1), attention, 0.0))
        lengths += emits
        finished |= ended
        if bool(finished.all()):
            break
    longest = int(lengths.max())
    stacked_tokens = torch.stack(tokens, dim=1)[:, :longest]
    stacked_attention = torch.stack(attentions, dim=1)[:, :longest] if attentions else None
    return DecodedCaptions(stacked_tokens, lengths, scores, stacked_attention)
