"""Corpus BLEU-4 as the Show-Attend-Tell tutorial reports it.

sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning computes `nltk.translate.bleu_score.corpus_bleu(references,
hypotheses)`: default weights (0.25, 0.25, 0.25, 0.25), no smoothing. This is the same formula without nltk:
per n, clipped n-gram matches and hypothesis n-grams (at least 1 per hypothesis) summed over the corpus;
the brevity penalty from the summed hypothesis lengths and the summed closest reference lengths (ties
to the shorter reference); 0 when no unigram matches; an order with no match counts as precision
`sys.float_info.min` (nltk's `method0`), which makes the score 0.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from typing import Sequence


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu4(references: Sequence[Sequence[Sequence[str]]], hypotheses: Sequence[Sequence[str]]) -> float:
    """nltk's `corpus_bleu(references, hypotheses)` with its defaults; references[i] holds hypothesis i's
    reference token lists."""
    if len(references) != len(hypotheses):
        raise ValueError("one list of references per hypothesis")
    matches, totals = [0] * 4, [0] * 4
    hypothesis_length = reference_length = 0
    for refs, hypothesis in zip(references, hypotheses):
        for n in range(1, 5):
            counts = _ngrams(hypothesis, n)
            most = Counter()
            for ref in refs:
                most |= _ngrams(ref, n)
            matches[n - 1] += sum(min(count, most[gram]) for gram, count in counts.items())
            totals[n - 1] += max(1, sum(counts.values()))
        hypothesis_length += len(hypothesis)
        reference_length += min((len(ref) for ref in refs), key=lambda length: (abs(length - len(hypothesis)), length))
    if matches[0] == 0:
        return 0.0
    if hypothesis_length > reference_length:
        brevity = 1.0
    elif hypothesis_length == 0:
        brevity = 0.0
    else:
        brevity = math.exp(1 - reference_length / hypothesis_length)
    log_precisions = [math.log(m / t) if m else math.log(sys.float_info.min) for m, t in zip(matches, totals)]
    return brevity * math.exp(math.fsum(0.25 * p for p in log_precisions))
