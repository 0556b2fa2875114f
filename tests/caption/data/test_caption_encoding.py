"""Captions encoded as the tutorial's targets: <start> words <end> <pad>..., a fixed count per image, long ones
dropped or truncated."""

import random
from pathlib import Path

import numpy as np
import pytest

from vlkit.caption.data.encoding import choose_captions, encode_caption, encode_images
from vlkit.caption.data.karpathy import KarpathyImage
from vlkit.caption.data.word_map import WordMap
from vlkit.core.errors import VlkitError

WORDS = WordMap.from_words(["a", "dog", "cat"])  # a 1, dog 2, cat 3, <unk> 4, <start> 5, <end> 6, <pad> 0


def image(image_id, *captions):
    return KarpathyImage(image_id, "train", f"{image_id}.jpg", None, Path(f"{image_id}.jpg"),
                         tuple(tuple(c.split()) for c in captions), captions)


def test_a_caption_is_start_words_end_then_pads_to_max_len_plus_two_with_length_words_plus_two():
    assert encode_caption(["a", "zebra", "dog"], WORDS, max_len=5) == ([5, 1, 4, 2, 6, 0, 0], 5)
    assert encode_caption(["cat"], WORDS, max_len=1) == ([5, 3, 6], 3)


def test_images_encode_to_n_by_c_by_max_len_plus_two_tokens_and_n_by_c_lengths():
    tokens, lengths = encode_images([image(1, "a dog"), image(2, "cat a cat", "dog")], WORDS, captions_per_image=2,
                                    max_len=3, long_captions="drop", rng=random.Random(0))
    assert tokens.dtype == np.int64 and lengths.dtype == np.int64
    np.testing.assert_array_equal(tokens[0], [[5, 1, 2, 6, 0], [5, 1, 2, 6, 0]])
    assert sorted(map(tuple, tokens[1].tolist())) == [(5, 2, 6, 0, 0), (5, 3, 1, 3, 6)]
    np.testing.assert_array_equal(lengths[0], [4, 4])
    assert sorted(lengths[1].tolist()) == [3, 5]


def test_fewer_captions_keep_all_in_order_then_repeat_random_ones_as_the_tutorial_seeded_with_123():
    captions = [["a"], ["b"]]
    chosen = choose_captions(captions, 5, random.Random(123))
    random.seed(123)  # the tutorial: seed(123), then imcaps + [choice(imcaps) for the missing ones]
    assert chosen == captions + [random.choice(captions) for _ in range(3)]
    assert chosen[:2] == captions and all(c in captions for c in chosen)


def test_more_captions_are_sampled_without_replacement_as_the_tutorial_seeded_with_123():
    captions = [[w] for w in "abcdefg"]
    chosen = choose_captions(captions, 5, random.Random(123))
    random.seed(123)
    assert chosen == random.sample(captions, k=5)
    assert len({c[0] for c in chosen}) == 5


def test_the_same_seed_draws_the_same_captions_and_another_seed_others():
    images = [image(i, "a", "dog", "cat", "a dog", "a cat", "dog cat", "cat a") for i in range(8)]
    first = encode_images(images, WORDS, 5, 4, "drop", random.Random(7))[0]
    np.testing.assert_array_equal(first, encode_images(images, WORDS, 5, 4, "drop", random.Random(7))[0])
    assert not np.array_equal(first, encode_images(images, WORDS, 5, 4, "drop", random.Random(8))[0])


def test_long_captions_are_dropped_or_truncated_to_max_len():
    long_and_short = [image(1, "a dog cat a", "cat")]
    dropped, dropped_lengths = encode_images(long_and_short, WORDS, 2, 2, "drop", random.Random(0))
    np.testing.assert_array_equal(dropped[0], [[5, 3, 6, 0], [5, 3, 6, 0]])
    np.testing.assert_array_equal(dropped_lengths[0], [3, 3])
    truncated, truncated_lengths = encode_images(long_and_short, WORDS, 2, 2, "truncate", random.Random(0))
    assert sorted(map(tuple, truncated[0].tolist())) == [(5, 1, 2, 6), (5, 3, 6, 0)]
    assert sorted(truncated_lengths[0].tolist()) == [3, 4]


def test_an_image_whose_captions_are_all_dropped_is_an_error_naming_it():
    with pytest.raises(VlkitError, match=r"image 9 \(9.jpg\) has no caption of at most max_len=2 tokens \(the "
                                         r"shortest has 3\).*long_captions='truncate'"):
        encode_images([image(1, "cat"), image(9, "a dog cat", "a a a a")], WORDS, 5, 2, "drop", random.Random(0))
