import pytest
import torch

from vlkit.core.errors import VlkitError
from vlkit.text.tokenizers import tokenize
from vlkit.text.vocabulary import Vocabulary


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("What color is the Shape?") == ["what", "color", "is", "the", "shape"]
    assert tokenize("  is there   a red-shape!") == ["is", "there", "a", "red", "shape"]
    assert tokenize("?!") == []


def test_vocabulary_orders_by_frequency_and_keeps_pad_unk_first():
    vocab = Vocabulary.build(["a b b", "c b a"])
    assert vocab.itos == ["<pad>", "<unk>", "b", "a", "c"]
    assert vocab.encode("b zebra a", max_len=10) == [2, 1, 3]
    assert vocab.unknown_words("b zebra a quagga") == ["zebra", "quagga"]


def test_encode_batch_pads_truncates_and_rejects_empty_questions():
    vocab = Vocabulary.build(["one two three four"])
    tokens, lengths = vocab.encode_batch(["one two three four", "two"], max_len=3)
    assert vocab.itos[2:] == ["four", "one", "three", "two"]  # equal counts: alphabetical
    assert tokens.tolist() == [[3, 5, 4], [5, 0, 0]]
    assert lengths.tolist() == [3, 1]
    assert tokens.dtype == torch.long
    with pytest.raises(VlkitError, match="no words"):
        vocab.encode_batch(["one", "?"], max_len=3)


def test_save_and_load_round_trip(tmp_path):
    vocab = Vocabulary.build(["is it red", "is it blue"])
    vocab.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json").itos == vocab.itos
    mcan = Vocabulary(["whats"], tokenizer="mcan")
    mcan.save(tmp_path / "mcan.json")
    assert Vocabulary.load(tmp_path / "mcan.json").encode("What's up?", 4) == [2, 1]
    with pytest.raises(VlkitError, match="not found"):
        Vocabulary.load(tmp_path / "missing.json")


def test_mcan_tokenisation_rules():
    from vlkit.text.tokenizers import mcan_tokenize

    assert mcan_tokenize("What's the man's T-shirt color (front/back)?") == [
        "whats", "the", "mans", "t", "shirt", "color", "front", "back"]
    assert mcan_tokenize("Is it #1: yes; *really*!") == ["is", "it", "1", "yes", "really"]


def test_pytorch_vqa_tokenisation_drops_the_last_character():
    from vlkit.text.tokenizers import pytorch_vqa_tokenize

    assert pytorch_vqa_tokenize("What color is the bus?") == ["what", "color", "is", "the", "bus"]
    assert pytorch_vqa_tokenize("Is it a dog, or a cat?") == ["is", "it", "a", "dog,", "or", "a", "cat"]


def test_first_appearance_vocabulary():
    vocab = Vocabulary.in_first_appearance_order(["B a?", "c, a-b"])
    assert vocab.itos == ["<pad>", "<unk>", "b", "a", "c"]
    assert vocab.encode("What's a-b?", 5) == [1, 3, 2]  # MCAN tokens: whats (unknown), a, b


def test_vlkits_tokens_keep_accents_and_every_script_and_match_both_unicode_forms_of_a_letter():
    composed, decomposed = "Est-ce un café ?", "Est-ce un cafe\u0301 ?"
    assert tokenize(composed) == tokenize(decomposed) == ["est", "ce", "un", "café"]
    assert tokenize("形状是什么颜色?") == ["形状是什么颜色"]  # no spaces in Chinese: one token
    assert tokenize("Is it the dog's ball_2?") == ["is", "it", "the", "dog's", "ball", "2"]


def test_the_reference_tokenisers_keep_their_exact_rules():
    from vlkit.text.tokenizers import mcan_tokenize, pytorch_vqa_tokenize

    assert mcan_tokenize("Is the café open?") == ["is", "the", "café", "open"]
    assert pytorch_vqa_tokenize("Is the café open?") == ["is", "the", "café", "open"]
