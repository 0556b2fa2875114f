"""The PyTorch captioning tutorial's per-image beam search, written out over a generic decoder step.

sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning decodes one image at a time (`caption.py`
caption_image_beam_search; `eval.py` evaluate runs the same loop without the alphas). Its loop, kept
here operation for operation so that vlkit's batched `beam_search` can be checked against it:
- the image's decoder inputs are expanded to k equal rows; every beam starts as `<start>`, score 0;
- each step: scores = running score + log_softmax(logits); at step 1 the top k of row 0 alone, later
  the top k of all s x V scores flattened (s = beams left); beam = index // V, word = index % V;
- sequences (and their alphas) are extended; those whose new word is `<end>` go to the completed
  lists (in ascending candidate order) and k shrinks by their number; the loop ends when k is 0;
- otherwise the unfinished rows of the state are selected, and `if step > step_limit: break` (50 in
  the tutorial) ends the loop after step step_limit + 1; unfinished beams are then dropped;
- the answer is the first completed sequence of the highest score; with none the tutorial fails
  (`max()` of an empty list), and so does this transcription (ValueError).

`step` is any decoder step as a function: state (dict of (s, ...) tensors, the tutorial's
encoder_out, h and c or a model's context and state) and the previous words (s,) -> logits (s, V),
the new state, attention (s, P) or None (a step giving log-probabilities instead of logits gives the same
result: log_softmax leaves them unchanged). The benchmark (benchmarks/caption_beam_search.py) runs it
image by image as the per-image baseline.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
State = dict[str, Tensor]
Step = Callable[[State, Tensor], tuple[Tensor, State, Optional[Tensor]]]


def tutorial_beam_search(step: Step, state: State, start: int, end: int, beam_size: int = 3,
                         step_limit: int = 50) -> tuple[list[int], float, Tensor]:
    """One image's beam search as the tutorial runs it.

    state: the image's decoder state, every tensor (1, ...). -> (seq, score, alphas): seq the word indices
    `<start>` ... `<end>` as the tutorial returns them, score its summed log-probability (a float), alphas
    (len(seq), P) the attention of each word's step, the first row (for `<start>`) all ones as in the tutorial
    (an empty (len(seq), 0) tensor for a step without attention).
    """
    k = beam_size
    state = {key: value.expand(k, *value.shape[1:]) for key, value in state.items()}
    previous_words = torch.full((k,), start, dtype=torch.long)          # (k,)
    seqs = previous_words.unsqueeze(1)                                   # (k, 1)
    top_k_scores = torch.zeros(k, 1)                                     # (k, 1)
    seqs_alpha: Optional[Tensor] = None                                  # (k, step + 1, P) once known
    complete_seqs: list[list[int]] = []
    complete_seqs_alpha: list[Tensor] = []
    complete_seqs_scores: list[float] = []

    step_number = 1
    while True:
        logits, state, alpha = step(state, previous_words)               # (s, V), ..., (s, P) or None
        vocab_size = logits.shape[1]
        if alpha is None:
            alpha = logits.new_zeros(logits.shape[0], 0)
        if seqs_alpha is None:
            seqs_alpha = torch.ones(k, 1, alpha.shape[1])
        scores = F.log_softmax(logits, dim=1)
        scores = top_k_scores.expand_as(scores) + scores                 # (s, V)
        if step_number == 1:
            top_k_scores, top_k_words = scores[0].topk(k, 0, True, True)   # (s,)
        else:
            top_k_scores, top_k_words = scores.view(-1).topk(k, 0, True, True)
        prev_word_inds = top_k_words // vocab_size
        next_word_inds = top_k_words % vocab_size
        seqs = torch.cat([seqs[prev_word_inds], next_word_inds.unsqueeze(1)], dim=1)
        seqs_alpha = torch.cat([seqs_alpha[prev_word_inds], alpha[prev_word_inds].unsqueeze(1)], dim=1)

        incomplete_inds = [i for i, word in enumerate(next_word_inds.tolist()) if word != end]
        complete_inds = sorted(set(range(len(next_word_inds))) - set(incomplete_inds))
        for i in complete_inds:
            complete_seqs.append(seqs[i].tolist())
            complete_seqs_alpha.append(seqs_alpha[i])
            complete_seqs_scores.append(float(top_k_scores[i]))
        k -= len(complete_inds)
        if k == 0:
            break
        seqs = seqs[incomplete_inds]
        seqs_alpha = seqs_alpha[incomplete_inds]
        rows = prev_word_inds[incomplete_inds]
        state = {key: value[rows] for key, value in state.items()}
        top_k_scores = top_k_scores[incomplete_inds].unsqueeze(1)
        previous_words = next_word_inds[incomplete_inds]
        if step_number > step_limit:
            break
        step_number += 1

    best = complete_seqs_scores.index(max(complete_seqs_scores))
    return complete_seqs[best], complete_seqs_scores[best], complete_seqs_alpha[best]
