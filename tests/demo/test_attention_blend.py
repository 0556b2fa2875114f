"""The attention picture the demo shows: jet colours of the scaled weights blended half-and-half over the image."""

from __future__ import annotations

import numpy as np

from vlkit.vision.attention_figure import blend_attention
from vlkit.vision.images import enlarged

WHITE = 255


def test_blend_gives_the_jet_colours_of_the_weights_half_over_the_image():
    # matplotlib's jet: weight 1 (the maximum) is dark red (0.5, 0, 0), weight 0 dark blue (0, 0, 0.5)
    image = np.full((2, 2, 3), WHITE, dtype=np.uint8)
    weights = np.array([[0.4, 0.0], [0.0, 0.0]])  # scaled to its maximum: the top-left region is 1
    blended = blend_attention(image, weights)
    assert blended.shape == (2, 2, 3) and blended.dtype == np.uint8
    np.testing.assert_array_equal(blended[0, 0], np.round([0.5 * 255 + 0.5 * 127.5, 127.5, 127.5]))
    np.testing.assert_array_equal(blended[1, 1], np.round([127.5, 127.5, 0.5 * 255 + 0.5 * 127.5]))


def test_blend_on_a_black_image_is_half_the_colour():
    blended = blend_attention(np.zeros((1, 1, 3), dtype=np.uint8), np.array([[2.0]]))
    np.testing.assert_array_equal(blended[0, 0], [64, 0, 0])  # round(0.5 * 127.5) = 64 (half of dark red)


def test_a_small_image_is_enlarged_by_a_whole_factor_before_blending():
    blended = blend_attention(np.zeros((64, 48, 3), dtype=np.uint8), np.ones((4, 4)), min_side=256)
    assert blended.shape == (384, 288, 3)  # shorter side 48 -> factor ceil(256 / 48) = 6


def test_enlarging_repeats_each_pixel_and_leaves_large_images_alone():
    image = np.array([[[1, 2, 3], [4, 5, 6]]], dtype=np.uint8)  # (1, 2, 3)
    np.testing.assert_array_equal(enlarged(image, 3), [[[1, 2, 3]] * 3 + [[4, 5, 6]] * 3] * 3)
    assert enlarged(image, 1) is image
