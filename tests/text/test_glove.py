import numpy as np
import pytest

from vlkit.core.errors import VlkitError
from vlkit.text.glove import embedding_matrix, load_glove
from vlkit.text.vocabulary import Vocabulary


def write_glove(path, rows, dim=3):
    lines = [" ".join([word, *(f"{v:.4f}" for v in values)]) for word, values in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def count_conversions(monkeypatch) -> list:
    """A list that grows by one each time a GloVe text file is parsed."""
    from vlkit.text import glove

    calls = []
    convert = glove._convert
    monkeypatch.setattr(glove, "_convert", lambda *args: calls.append(args) or convert(*args))
    return calls


def test_convert_once_then_reuse_the_cache(tmp_path, monkeypatch):
    conversions = count_conversions(monkeypatch)
    text = tmp_path / "glove.tiny.3d.txt"
    write_glove(text, [("the", [0.1, 0.2, 0.3]), ("red", [1.0, -1.0, 0.5]), (". . .", [0.0, 0.0, 1.0])])
    with open(text, "a") as handle:
        handle.write("broken 1.0 x 2.0\nshort 1\n")
    glove = load_glove(text, tmp_path / "cache")
    assert glove.words == ["the", "red", ". . ."]  # a token with spaces (840B has them)
    assert glove.skipped_lines == 2
    np.testing.assert_allclose(glove.vectors[glove.index["red"]], [1.0, -1.0, 0.5])
    cached = load_glove(text, tmp_path / "cache")  # second load reads the .npy
    assert len(conversions) == 1
    assert isinstance(cached.vectors, np.memmap)
    assert cached.skipped_lines == 2 and cached.words == glove.words


def test_files_that_differ_only_in_dimension_keep_separate_caches(tmp_path, monkeypatch):
    conversions = count_conversions(monkeypatch)
    small, large = tmp_path / "glove.6B.50d.txt", tmp_path / "glove.6B.100d.txt"
    write_glove(small, [("red", [1, 2])], dim=2)
    write_glove(large, [("red", [1, 2, 3])])
    for _ in range(2):
        assert load_glove(small, tmp_path / "cache").vectors.shape == (1, 2)
        assert load_glove(large, tmp_path / "cache").vectors.shape == (1, 3)
    assert len(conversions) == 2


def test_changed_source_is_converted_again(tmp_path):
    text = tmp_path / "g.txt"
    write_glove(text, [("a", [1, 2, 3])])
    load_glove(text, tmp_path)
    write_glove(text, [("a", [1, 2, 3]), ("bb", [4, 5, 6])])
    assert load_glove(text, tmp_path).words == ["a", "bb"]


def test_embedding_matrix_initialisation(tmp_path):
    text = tmp_path / "g.txt"
    write_glove(text, [("is", [1, 0, 0]), ("it", [0, 1, 0]), ("red", [0, 0, 1])])
    glove = load_glove(text, tmp_path)
    vocab = Vocabulary(["is", "red", "zorblax"])
    matrix, missing = embedding_matrix(vocab, glove)
    assert matrix.shape == (5, 3) and matrix.dtype == np.float32
    assert not matrix[0].any()  # PAD
    np.testing.assert_allclose(matrix[2], [1, 0, 0])
    assert missing == ["<unk>", "zorblax"]
    again, _ = embedding_matrix(vocab, glove)
    np.testing.assert_array_equal(matrix, again)  # missing words get the same vector every time
    assert matrix[4].any()


def test_mcan_rows_take_pad_and_unk_from_glove_and_leave_missing_words_zero(tmp_path):
    text = tmp_path / "g.txt"
    write_glove(text, [("is", [1, 0, 0]), ("UNK", [0, 2, 0])])
    matrix, missing = embedding_matrix(Vocabulary(["is", "zorblax"]), load_glove(text, tmp_path), rows="mcan")
    np.testing.assert_array_equal(matrix, [[0, 0, 0], [0, 2, 0], [1, 0, 0], [0, 0, 0]])  # GloVe has no "PAD"
    assert missing == ["PAD", "zorblax"]


def test_missing_or_wrong_file(tmp_path):
    with pytest.raises(VlkitError, match="never downloads"):
        load_glove(tmp_path / "glove.840B.300d.txt", tmp_path)
    bad = tmp_path / "bad.txt"
    bad.write_text("not numbers at all\n")
    with pytest.raises(VlkitError, match="no 'word v1"):
        load_glove(bad, tmp_path)


def test_initialise_a_models_word_embedding(tmp_path):
    import torch

    from conftest import build_vqa_model
    from vlkit.text.glove import initialise_embedding
    from vlkit.vqa.models.mcan import McanOptions

    text = tmp_path / "g.txt"
    write_glove(text, [("what", [1, 2, 3]), ("color", [4, 5, 6])])
    vocab = Vocabulary(["what", "color", "zorblax"], tokenizer="mcan")
    options = McanOptions(feature_dim=4, embed_dim=3, hidden_size=8, heads=2, layers=1, flat_mlp_size=4,
                          flat_out_size=8)
    model = build_vqa_model("mcan_small", options, vocab_size=len(vocab), num_answers=3)
    assert initialise_embedding(model, vocab, text) == ["<unk>", "zorblax"]
    torch.testing.assert_close(model.embedding.weight[2], torch.tensor([1.0, 2.0, 3.0]))
    assert not model.embedding.weight[0].any()
    wide = build_vqa_model("mcan_small", McanOptions(feature_dim=4, embed_dim=5, hidden_size=8, heads=2, layers=1,
                                                 flat_mlp_size=4, flat_out_size=8), vocab_size=5, num_answers=3)
    with pytest.raises(VlkitError, match="3-d vectors"):
        initialise_embedding(wide, vocab, text)


def test_a_model_without_a_word_embedding_is_told_to_drop_glove(tmp_path):
    from conftest import build_vqa_model, vqa_config
    from vlkit.text.glove import initialise_embedding

    text = tmp_path / "g.txt"
    write_glove(text, [("what", [1, 2, 3])])
    vocab = Vocabulary(["what"])
    bow = build_vqa_model("bow", vqa_config("data.dataset=vqa", "model.name=bow").model, vocab_size=len(vocab),
                          num_answers=3)
    with pytest.raises(VlkitError, match="drop model.glove"):
        initialise_embedding(bow, vocab, text)
