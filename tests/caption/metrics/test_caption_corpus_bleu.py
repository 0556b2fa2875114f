"""The tutorial's corpus BLEU-4 (nltk corpus_bleu, default weights, no smoothing), by hand and against nltk."""

import math
import random
import sys
import warnings

import nltk.translate.bleu_score as nltk_bleu
import pytest

from vlkit.caption.metrics.corpus_bleu import corpus_bleu4


def test_corpus_bleu4_of_a_hand_computed_example():
    # hypothesis "a cat sat on a mat" against "a cat sat on the mat" and "the cat is on a mat"
    # 1-grams: a x2 (clipped to 1, its most in one reference), cat, sat, on, mat -> 5 of 6
    # 2-grams: a-cat, cat-sat, sat-on (ref 1), on-a, a-mat (ref 2) -> 5 of 5
    # 3-grams: a-cat-sat, cat-sat-on (ref 1), on-a-mat (ref 2); sat-on-a in neither -> 3 of 4
    # 4-grams: a-cat-sat-on (ref 1) -> 1 of 3
    # length 6, closest reference length 6 -> brevity penalty exp(1 - 6/6) = 1
    expected = (5 / 6 * 5 / 5 * 3 / 4 * 1 / 3) ** 0.25
    references = [[["a", "cat", "sat", "on", "the", "mat"], ["the", "cat", "is", "on", "a", "mat"]]]
    assert corpus_bleu4(references, [["a", "cat", "sat", "on", "a", "mat"]]) == pytest.approx(expected, rel=1e-12)


def test_a_short_hypothesis_gets_the_brevity_penalty():
    # 4 words, every n-gram in the 6-word reference: precisions 1, brevity penalty exp(1 - 6/4)
    references = [[["a", "b", "c", "d", "e", "f"]]]
    assert corpus_bleu4(references, [["a", "b", "c", "d"]]) == pytest.approx(math.exp(1 - 6 / 4), rel=1e-12)


def random_corpus(rng: random.Random) -> tuple[list, list]:
    """1-6 images with 1-4 references each; each hypothesis a reference with some words changed or cut short
    (so most orders have matches, some not; one in ten hypotheses is empty)."""
    words = "a the cat dog on mat sat runs".split()
    references, hypotheses = [], []
    for _ in range(rng.randint(1, 6)):
        refs = [[rng.choice(words) for _ in range(rng.randint(3, 10))] for _ in range(rng.randint(1, 4))]
        hypothesis = [w if rng.random() < 0.8 else rng.choice(words) for w in rng.choice(refs)]
        references.append(refs)
        hypotheses.append([] if rng.random() < 0.1 else hypothesis[:rng.randint(1, len(hypothesis) + 2)])
    return references, hypotheses


@pytest.mark.parametrize("seed", range(40))
def test_corpus_bleu4_equals_nltk_corpus_bleu(seed):
    references, hypotheses = random_corpus(random.Random(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns when an n-gram order has no match
        expected = nltk_bleu.corpus_bleu(references, hypotheses)
    assert corpus_bleu4(references, hypotheses) == pytest.approx(expected, rel=1e-12, abs=sys.float_info.min)
