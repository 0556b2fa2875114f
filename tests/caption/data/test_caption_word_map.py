"""Word maps counted by hand on the fixture captions, in vlkit's and the tutorial's counting, and the WORDMAP file."""

import json

import pytest

from caption_fixtures import write_karpathy
from vlkit.caption.data.karpathy import read_karpathy
from vlkit.caption.data.word_map import WordMap, build_word_map
from vlkit.core.errors import VlkitError


@pytest.fixture
def dataset(tmp_path):
    return read_karpathy(write_karpathy(tmp_path, images=False))


def test_train_counting_keeps_words_seen_at_least_min_freq_times_in_train_and_restval_most_frequent_first(dataset):
    # train + restval counts: a 7, cat 6, dog 4, the 3, runs 2, sleeps 2, brown/fast/on/mat/and 1
    word_map = build_word_map(dataset, min_word_freq=2)
    assert word_map.stoi == {"a": 1, "cat": 2, "dog": 3, "the": 4, "runs": 5, "sleeps": 6,
                             "<unk>": 7, "<start>": 8, "<end>": 9, "<pad>": 0}
    # words seen once, in first-appearance order brown fast on mat and, come alphabetically
    assert build_word_map(dataset, min_word_freq=1).itos[7:12] == ["and", "brown", "fast", "mat", "on"]


def test_train_counting_with_restval_separate_counts_train_only(dataset):
    # train counts: dog 3, a 2, runs 2, brown/the/fast 1
    word_map = build_word_map(dataset, min_word_freq=2, restval="separate")
    assert word_map.stoi == {"dog": 1, "a": 2, "runs": 3, "<unk>": 4, "<start>": 5, "<end>": 6, "<pad>": 0}


def test_tutorial_counting_keeps_words_seen_more_than_min_freq_times_in_every_split_in_first_appearance_order(dataset):
    # all splits: a 11, cat 6, dog 4, the 4, runs/sleeps/bird/fish 2, the rest 1; kept when count > 1
    word_map = build_word_map(dataset, min_word_freq=1, word_counting="tutorial")
    assert list(word_map.stoi.items()) == [("a", 1), ("dog", 2), ("runs", 3), ("the", 4), ("cat", 5), ("sleeps", 6),
                                           ("bird", 7), ("fish", 8), ("<unk>", 9), ("<start>", 10), ("<end>", 11),
                                           ("<pad>", 0)]


def test_tutorial_counting_counts_the_captions_that_max_len_will_drop(dataset):
    # "the" is 3 times in train/restval and once in the 8-token test caption: only with it is the count above 3
    assert list(build_word_map(dataset, min_word_freq=3, word_counting="tutorial").stoi)[:4] == ["a", "dog", "the", "cat"]


def test_word_map_saves_the_tutorial_wordmap_json_and_loads_it_back(dataset, tmp_path):
    word_map = build_word_map(dataset, min_word_freq=2)
    word_map.save(tmp_path / "WORDMAP_x.json")
    assert json.loads((tmp_path / "WORDMAP_x.json").read_text()) == word_map.stoi
    loaded = WordMap.load(tmp_path / "WORDMAP_x.json")
    assert loaded == word_map and loaded.itos[7:] == ["<unk>", "<start>", "<end>"] and loaded.itos[0] == "<pad>"
    assert loaded.words([8, 3, 7, 9, 0]) == ["dog", "<unk>"]


def test_unknown_words_encode_as_unk_and_decoding_stops_at_end(dataset):
    word_map = build_word_map(dataset, min_word_freq=2)
    assert word_map.indices(["a", "zebra", "cat"]) == [1, 7, 2]
    assert word_map.words([8, 1, 2, 9, 3, 0]) == ["a", "cat"]


def test_a_json_that_is_not_a_word_map_is_an_error(tmp_path):
    (tmp_path / "w.json").write_text(json.dumps({"a": 1, "<unk>": 2, "<start>": 3, "<end>": 4, "<pad>": 5}))
    with pytest.raises(VlkitError, match="w.json is not a word map: <pad> must be index 0"):
        WordMap.load(tmp_path / "w.json")
    (tmp_path / "w.json").write_text(json.dumps({"a": 1, "<pad>": 0}))
    with pytest.raises(VlkitError, match=r"needs \['<unk>', '<start>', '<end>'\]"):
        WordMap.load(tmp_path / "w.json")
