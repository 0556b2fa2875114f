"""Batched beam search and greedy decoding (vlkit.caption.decoding) against the tutorial's per-image beam search.

The models here are small stand-ins written against the CaptionModel interface: an attention LSTM with
random weights (compared with the transcription in tutorial_beam_search.py), and word-to-word tables
whose beam results are worked out by hand.
"""

from __future__ import annotations

import math
from typing import Optional

import pytest
import torch
from torch import nn
from tutorial_beam_search import tutorial_beam_search

from vlkit.caption.data.word_map import WordMap
from vlkit.caption.decoding import DecodedCaptions, beam_search, caption_texts, greedy_decode
from vlkit.caption.models.base import CaptionModel, TensorDict, beams_per_image

VOCAB, REGIONS, FEATURES = 30, 4, 8
PAD, START, END = 0, 28, 29


class ToyAttentionModel(CaptionModel):
    """An LSTMCell decoder with soft attention over P regions (show-attend-tell's shape, tiny sizes).

    The `<end>` logit gets end_bias + pace * steps so far (pace in (0, end_growth), from the image), so that
    captions end, at different steps for different images and beams."""

    def __init__(self, end_bias: float, end_growth: float = 1.0, seed: int = 0, hidden: int = 16):
        super().__init__()
        torch.manual_seed(seed)
        self.vocab_size = VOCAB
        self.end_bias, self.end_growth = end_bias, end_growth
        self.pace = nn.Linear(FEATURES, 1)
        self.embedding = nn.Embedding(VOCAB, 8)
        self.encoder_att = nn.Linear(FEATURES, hidden)
        self.decoder_att = nn.Linear(hidden, hidden)
        self.full_att = nn.Linear(hidden, 1)
        self.init_h = nn.Linear(FEATURES, hidden)
        self.init_c = nn.Linear(FEATURES, hidden)
        self.cell = nn.LSTMCell(8 + FEATURES, hidden)
        self.fc = nn.Linear(hidden, VOCAB)
        with torch.no_grad():
            self.fc.weight.mul_(8.0)

    def start(self, encoded: torch.Tensor) -> tuple[TensorDict, TensorDict]:
        mean = encoded.mean(1)
        context = {"encoded": encoded, "projected": self.encoder_att(encoded),
                   "pace": self.end_growth * torch.sigmoid(self.pace(mean)).squeeze(1)}   # (B,)
        return context, {"h": self.init_h(mean), "c": self.init_c(mean), "steps": torch.zeros(mean.shape[0])}

    def step(self, context: TensorDict, state: TensorDict, words: torch.Tensor
             ) -> tuple[torch.Tensor, TensorDict, Optional[torch.Tensor]]:
        images = context["encoded"].shape[0]
        beams = beams_per_image(images, words.shape[0])                        # k state rows per context row
        query = self.decoder_att(state["h"]).view(images, beams, 1, -1)        # (B, k, 1, A)
        energy = self.full_att(torch.tanh(context["projected"][:, None] + query))   # (B, k, P, 1)
        alpha = energy.view(images * beams, -1).softmax(1)                     # (B k, P)
        weighted = (alpha.view(images, beams, -1, 1) * context["encoded"][:, None]).sum(2).view(images * beams, -1)
        h, c = self.cell(torch.cat([self.embedding(words), weighted], 1), (state["h"], state["c"]))
        logits = self.fc(h)       # <end> grows likelier with every step, at an image's own pace
        logits[:, END] += self.end_bias + context["pace"].repeat_interleave(beams) * state["steps"]
        return logits, {"h": h, "c": c, "steps": state["steps"] + 1}, alpha


# word indices of the table models: the word map of ["a", "b", "c"]
A, B, C, T_START, T_END, T_VOCAB = 1, 2, 3, 5, 6, 7


class TableModel(CaptionModel):
    """Next-word probabilities from a table of the previous word: logits = log(table[word]); no attention."""

    attends = False

    def __init__(self, rows: dict[int, dict[int, float]]):
        super().__init__()
        self.vocab_size = T_VOCAB
        table = torch.full((T_VOCAB, T_VOCAB), 1e-6)
        for previous, row in rows.items():
            for word, probability in row.items():
                table[previous, word] = probability
        self.register_buffer("table", table / table.sum(1, keepdim=True))

    def start(self, encoded: torch.Tensor) -> tuple[TensorDict, TensorDict]:
        return {}, {}

    def step(self, context: TensorDict, state: TensorDict, words: torch.Tensor
             ) -> tuple[torch.Tensor, TensorDict, Optional[torch.Tensor]]:
        return self.table[words].log(), state, None


def model_step(model: CaptionModel):
    """The model's step over one state dict (its context and state together), for the transcription."""
    def step(state, words):
        context = {key: state[key] for key in ("encoded", "projected", "pace")}
        logits, new_state, alpha = model.step(context, {key: state[key] for key in ("h", "c", "steps")}, words)
        return logits, {**context, **new_state}, alpha
    return step


def per_image(model: CaptionModel, encoded: torch.Tensor, beam_size: int, step_limit: int):
    """The transcription image by image -> list of (seq, score, alphas)."""
    results = []
    with torch.no_grad():
        for image in encoded:
            context, state = model.start(image.unsqueeze(0))
            results.append(tutorial_beam_search(model_step(model), {**context, **state}, START, END,
                                                beam_size, step_limit))
    return results


def images(count: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(count, REGIONS, FEATURES, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("beam_size", [1, 3, 5])
def test_beam_search_equals_the_tutorial_image_by_image(beam_size):
    model = ToyAttentionModel(end_bias=-2.0).eval()
    encoded = images(40)
    decoded = beam_search(model, encoded, START, END, beam_size=beam_size, max_length=20)
    expected = per_image(model, encoded, beam_size, step_limit=20)
    lengths = [len(seq) - 2 for seq, _, _ in expected]
    assert len(set(lengths)) >= 4, lengths          # captions that end at many different steps
    assert decoded.lengths.tolist() == lengths
    for row, (seq, score, alphas) in enumerate(expected):
        assert decoded.tokens[row, :lengths[row]].tolist() == seq[1:-1]
        assert (decoded.tokens[row, lengths[row]:] == PAD).all()
        assert decoded.scores[row].item() == pytest.approx(score, abs=1e-5)
        torch.testing.assert_close(decoded.attention[row, :lengths[row]], alphas[1:-1], atol=1e-5, rtol=0)
        assert (decoded.attention[row, lengths[row]:] == 0).all()
    assert decoded.attention.shape == (40, max(lengths), REGIONS)


def test_beam_search_at_the_tutorial_length_limit():
    """Long captions under the tutorial's own limit (`step > 50`): captions of up to 50 words that end at step
    51, and images whose beams never end in time, where the tutorial fails and vlkit returns 50 words."""
    model = ToyAttentionModel(end_bias=-8.0, end_growth=0.4, seed=3).eval()
    encoded = images(12, seed=4)
    decoded = beam_search(model, encoded, START, END, beam_size=3)
    compared = failed = 0
    for row in range(len(encoded)):
        try:
            (seq, score, _), = per_image(model, encoded[row:row + 1], 3, step_limit=50)
        except ValueError:                  # no beam of this image emitted <end> within 51 steps
            assert decoded.lengths[row].item() == 50
            failed += 1
            continue
        compared += 1
        assert decoded.tokens[row, :decoded.lengths[row]].tolist() == seq[1:-1]
        assert decoded.scores[row].item() == pytest.approx(score, rel=1e-6, abs=1e-5)   # float32 over 50 steps
    lengths = decoded.lengths.tolist()
    assert compared >= 6 and failed >= 1 and min(lengths) < 40


class CountingModel(CaptionModel):
    """Words `a` (likelier) or `b` until `words_before_end` words are out; then `<end>`, never before."""

    attends = False

    def __init__(self, words_before_end: int):
        super().__init__()
        self.vocab_size = T_VOCAB
        self.words_before_end = words_before_end

    def start(self, encoded: torch.Tensor) -> tuple[TensorDict, TensorDict]:
        return {}, {"count": torch.zeros(encoded.shape[0], dtype=torch.long)}

    def step(self, context, state, words):
        says_end = (state["count"] == self.words_before_end).unsqueeze(1)
        words_only = torch.full((T_VOCAB,), -1e4).index_fill(0, torch.tensor([A, B]), 0.0)
        words_only[A] = 1.0
        ending = torch.full((T_VOCAB,), -1e4).index_fill(0, torch.tensor([T_END]), 0.0)
        logits = torch.where(says_end, ending, words_only)
        return logits, {"count": state["count"] + 1}, None


def test_max_length_is_the_tutorials_word_limit():
    """The tutorial's 51 steps allow 50 words then <end>; max_length=n allows n words then <end>."""
    model = CountingModel(words_before_end=6)
    encoded = torch.zeros(2, 1, 1)

    def step(state, words):
        logits, new_state, _ = model.step({}, state, words)
        return logits, new_state, None

    seq, score, _ = tutorial_beam_search(step, {"count": torch.zeros(1, dtype=torch.long)}, T_START, T_END,
                                         beam_size=2, step_limit=6)
    assert seq == [T_START] + [A] * 6 + [T_END]
    for decode in (lambda m: beam_search(model, encoded, T_START, T_END, beam_size=2, max_length=m),
                   lambda m: greedy_decode(model, encoded, T_START, T_END, max_length=m)):
        decoded = decode(6)
        assert decoded.tokens.tolist() == [[A] * 6] * 2
        assert decoded.scores[0].item() == pytest.approx(score, abs=1e-5)
        cut = decode(5)                                         # <end> would be the 7th step: not run
        assert cut.tokens.tolist() == [[A] * 5] * 2
        assert cut.scores[0].item() == pytest.approx(5 * math.log(math.e / (math.e + 1)), abs=1e-5)
    with pytest.raises(ValueError):                            # the tutorial crashes here
        tutorial_beam_search(step, {"count": torch.zeros(1, dtype=torch.long)}, T_START, T_END,
                             beam_size=2, step_limit=5)


GREEDY_DIFFERS = {
    T_START: {A: 0.5, B: 0.4, C: 0.1},
    A: {T_END: 0.3, A: 0.26, B: 0.24, C: 0.2},
    B: {T_END: 0.9, A: 0.05, C: 0.05},
    C: {T_END: 1.0},
}


@pytest.mark.parametrize("beam_size", [2, 3])
def test_beam_search_by_hand(beam_size):
    """Greedy takes `a` (0.5) then <end> (0.3): 0.15. The beam also keeps `b` (0.4), whose <end> (0.9) gives
    0.36 at step 2; with k = 3 the third beam `a a` (0.13) ends at step 3 with 0.039."""
    model = TableModel(GREEDY_DIFFERS)
    encoded = torch.zeros(2, 1, 1)
    decoded = beam_search(model, encoded, T_START, T_END, beam_size=beam_size)
    assert decoded.tokens.tolist() == [[B], [B]]
    assert decoded.lengths.tolist() == [1, 1]
    assert decoded.attention is None
    torch.testing.assert_close(decoded.scores, torch.full((2,), math.log(0.36)), atol=1e-4, rtol=0)
    greedy = greedy_decode(model, encoded, T_START, T_END)
    assert greedy.tokens.tolist() == [[A], [A]]
    torch.testing.assert_close(greedy.scores, torch.full((2,), math.log(0.15)), atol=1e-4, rtol=0)
    word_map = WordMap.from_words(["a", "b", "c"])
    assert (word_map.start, word_map.end) == (T_START, T_END)
    assert caption_texts(decoded, word_map) == ["b", "b"]
    assert caption_texts(greedy, word_map) == ["a", "a"]


LENGTH_MATTERS = {
    T_START: {A: 0.55, B: 0.45},
    A: {T_END: 0.7, A: 0.1, B: 0.1, C: 0.1},
    B: {C: 0.9, T_END: 0.05, A: 0.05},
    C: {T_END: 0.9, A: 0.05, B: 0.05},
}


def test_length_normalization_changes_the_choice():
    """k = 2 completes `a` = 0.55 * 0.7 = 0.385 (log -0.955, 2 scored tokens) and `b c` = 0.45 * 0.9 * 0.9 =
    0.3645 (log -1.009, 3 tokens): the raw score takes `a`, per token (alpha 1: -0.477 < -0.336) `b c`."""
    model = TableModel(LENGTH_MATTERS)
    encoded = torch.zeros(3, 1, 1)
    raw = beam_search(model, encoded, T_START, T_END, beam_size=2)
    assert raw.tokens.tolist() == [[A]] * 3
    normalized = beam_search(model, encoded, T_START, T_END, beam_size=2, length_normalization=1.0)
    assert normalized.tokens.tolist() == [[B, C]] * 3
    torch.testing.assert_close(raw.scores, torch.full((3,), math.log(0.385)), atol=1e-4, rtol=0)
    torch.testing.assert_close(normalized.scores, torch.full((3,), math.log(0.3645)), atol=1e-4, rtol=0)


NEVER_ENDS = {T_START: {A: 0.6, B: 0.4}, A: {A: 0.5, B: 0.5}, B: {C: 0.7, A: 0.3}, C: {A: 0.8, B: 0.2}}


@pytest.mark.parametrize("beam_size", [1, 3])
def test_beams_that_never_end_give_max_length_words(beam_size):
    model = TableModel({row: {**words, T_END: 1e-9} for row, words in NEVER_ENDS.items()})
    encoded = torch.zeros(2, 1, 1)
    decoded = beam_search(model, encoded, T_START, T_END, beam_size=beam_size, max_length=7)
    assert decoded.tokens.shape == (2, 7)
    assert decoded.lengths.tolist() == [7, 7]
    assert (decoded.tokens != T_END).all() and (decoded.tokens != PAD).all()
    # the score is that of the 7 words, without an <end> term
    table = model.table.log()
    words = [T_START] + decoded.tokens[0].tolist()
    expected = sum(table[previous, word].item() for previous, word in zip(words, words[1:]))
    assert decoded.scores[0].item() == pytest.approx(expected, abs=1e-4)
    if beam_size == 3:   # the best of the 7-word beams: a sequence at least as likely as greedy's
        greedy = greedy_decode(model, encoded, T_START, T_END, max_length=7)
        assert decoded.scores[0].item() >= greedy.scores[0].item() - 1e-6


def test_attention_model_never_ending_returns_the_best_unfinished_beam():
    model = ToyAttentionModel(end_bias=-30.0, end_growth=0.0).eval()
    encoded = images(5)
    decoded = beam_search(model, encoded, START, END, beam_size=3, max_length=9)
    assert decoded.lengths.tolist() == [9] * 5
    assert decoded.attention.shape == (5, 9, REGIONS)
    torch.testing.assert_close(decoded.attention.sum(2), torch.ones(5, 9))
    with pytest.raises(ValueError):
        per_image(model, encoded[:1], 3, step_limit=9)


def test_beam_size_one_equals_greedy():
    model = ToyAttentionModel(end_bias=-3.0, seed=7).eval()
    encoded = images(50, seed=8)
    beam = beam_search(model, encoded, START, END, beam_size=1, max_length=15)
    greedy = greedy_decode(model, encoded, START, END, max_length=15)
    assert len(set(greedy.lengths.tolist())) >= 3
    assert greedy.lengths.max() == 15 and greedy.lengths.min() < 15
    assert torch.equal(beam.lengths, greedy.lengths)
    assert torch.equal(beam.tokens, greedy.tokens)
    torch.testing.assert_close(beam.scores, greedy.scores, atol=1e-5, rtol=0)
    torch.testing.assert_close(beam.attention, greedy.attention, atol=1e-6, rtol=0)


def test_greedy_decode_per_image():
    """Greedy for a batch equals greedy image by image (the transcription with k = 1)."""
    model = ToyAttentionModel(end_bias=-2.0, seed=5).eval()
    encoded = images(10, seed=6)
    decoded = greedy_decode(model, encoded, START, END, max_length=20)
    for row, (seq, score, alphas) in enumerate(per_image(model, encoded, 1, step_limit=20)):
        length = len(seq) - 2
        assert decoded.tokens[row, :length].tolist() == seq[1:-1]
        assert decoded.lengths[row].item() == length
        assert decoded.scores[row].item() == pytest.approx(score, abs=1e-5)
        torch.testing.assert_close(decoded.attention[row, :length], alphas[1:-1], atol=1e-5, rtol=0)


def test_decoded_captions_of_an_empty_caption():
    """An image whose first word is <end> has no words; its row is all <pad>."""
    model = TableModel({T_START: {T_END: 0.9, A: 0.1}, A: {T_END: 1.0}})
    decoded = beam_search(model, torch.zeros(2, 1, 1), T_START, T_END, beam_size=2)
    assert decoded.lengths.tolist() == [0, 0]
    assert decoded.tokens.shape == (2, 0)
    assert isinstance(decoded, DecodedCaptions)
    assert caption_texts(decoded, WordMap.from_words(["a", "b", "c"])) == ["", ""]


def test_rejects_bad_limits():
    model = TableModel(GREEDY_DIFFERS)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, torch.zeros(1, 1, 1), T_START, T_END, beam_size=0)
    with pytest.raises(ValueError, match="max_length"):
        greedy_decode(model, torch.zeros(1, 1, 1), T_START, T_END, max_length=0)


class StepTableModel(CaptionModel):
    """Next-word logits from a random table of (step, previous word); only words 1 and 2 and `<end>` are possible,
    so that a wide enough beam never has to drop a candidate."""

    attends = False
    START, END = 28, 29

    def __init__(self, seed: int, steps: int):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.vocab_size = VOCAB
        self.table = torch.full((steps, VOCAB, VOCAB), float("-inf"))
        for word in (1, 2, self.END):
            self.table[:, :, word] = torch.randn(steps, VOCAB, generator=generator) * 2

    def start(self, encoded: torch.Tensor) -> tuple[TensorDict, TensorDict]:
        return {"image": encoded[:, 0, 0]}, {"steps": torch.zeros(len(encoded), dtype=torch.long)}

    def step(self, context: TensorDict, state: TensorDict, words: torch.Tensor
             ) -> tuple[torch.Tensor, TensorDict, Optional[torch.Tensor]]:
        return self.table[state["steps"], words], {"steps": state["steps"] + 1}, None


def exhaustive_best(model: StepTableModel, max_length: int) -> tuple[list[int], float]:
    """Every caption of at most `max_length` words over {1, 2} followed by `<end>`, scored by summed log-softmax;
    the best one (the first of equal scores in enumeration order is irrelevant: random tables do not tie)."""
    log_probs = torch.log_softmax(model.table, dim=2)
    best: tuple[list[int], float] = ([], float("-inf"))
    prefixes: list[tuple[list[int], float]] = [([], 0.0)]
    for step in range(max_length + 1):
        extended = []
        for words, score in prefixes:
            previous = words[-1] if words else model.START
            ended = score + float(log_probs[step, previous, model.END])
            if ended > best[1]:
                best = (words, ended)
            extended += [(words + [w], score + float(log_probs[step, previous, w])) for w in (1, 2)]
        prefixes = extended if step < max_length else []
    return best


@pytest.mark.parametrize("seed", range(6))
def test_a_beam_wide_enough_to_keep_every_candidate_finds_the_exhaustive_best(seed):
    max_length = 3  # at most 2^3 live prefixes x 3 continuations = 24 candidates: a beam of 24 keeps them all
    model = StepTableModel(seed, max_length + 1)
    words, score = exhaustive_best(model, max_length)
    decoded = beam_search(model, torch.zeros(1, 1, 1), model.START, model.END, beam_size=24, max_length=max_length)
    assert decoded.tokens[0, : int(decoded.lengths[0])].tolist() == words
    assert float(decoded.scores[0]) == pytest.approx(score, abs=1e-5)
