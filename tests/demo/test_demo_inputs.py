"""The demo's checks on uploads and questions: each bad input is refused with a message that says what is wrong
(and no server path), before any model work; good input passes through unchanged."""

from __future__ import annotations

import pytest
from bad_uploads import frameless_video, text_file, truncated_png, wide_png
from PIL import Image

from vlkit.core.errors import VlkitError
from vlkit.demo.inputs import DemoLimits, check_count, check_image, check_question, check_video
from vlkit.synth.videos import draw_video_spec, render_video_frames, write_video

LIMITS = DemoLimits()


def test_a_valid_png_passes_the_image_check(tmp_path):
    path = tmp_path / "ok.png"
    Image.new("RGB", (40, 30), (0, 0, 255)).save(path)
    assert check_image(str(path), LIMITS) == path


def test_a_text_file_named_png_is_not_an_image(tmp_path):
    with pytest.raises(VlkitError, match="^the upload is not an image this demo can read") as error:
        check_image(text_file(tmp_path / "photo.png"), LIMITS)
    assert str(tmp_path) not in str(error.value)


def test_a_truncated_png_is_reported_as_damaged_without_its_path(tmp_path):
    with pytest.raises(VlkitError, match="^the image is damaged and cannot be decoded") as error:
        check_image(truncated_png(tmp_path / "cut.png"), LIMITS)
    assert str(tmp_path) not in str(error.value)


def test_an_image_over_the_pixel_limit_is_refused_with_its_size(tmp_path):
    path = wide_png(tmp_path / "wide.png", 2000, 1000)
    with pytest.raises(VlkitError, match=r"2000 x 1000 = 2\.0 megapixels; the limit is 1 megapixels"):
        check_image(path, DemoLimits(max_image_pixels=1_000_000))
    assert check_image(path, DemoLimits(max_image_pixels=2_000_000)) == path  # exactly at the limit passes


def test_an_upload_over_the_size_limit_is_refused_with_its_size(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(b"\x89PNG" + bytes(3 * 2**19))  # 1.5 MB of 2^20 bytes
    with pytest.raises(VlkitError, match=r"is 1\.5 MB; the limit is 1 MB"):
        check_image(path, DemoLimits(max_upload_mb=1.0))


def test_no_upload_and_an_empty_file_are_refused(tmp_path):
    with pytest.raises(VlkitError, match="upload an image first"):
        check_image(None, LIMITS)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(VlkitError, match="is an empty file"):
        check_image(tmp_path / "empty.png", LIMITS)


@pytest.mark.parametrize("question", ["", "   ", "\n\t", None])
def test_an_empty_question_is_refused(question):
    with pytest.raises(VlkitError, match="type a question first"):
        check_question(question, LIMITS)


def test_a_500_word_question_is_refused_and_one_at_the_limit_is_kept():
    with pytest.raises(VlkitError, match="the question has 500 words; the limit is 60"):
        check_question("what " * 500, LIMITS)
    at_limit = " ".join(["red"] * 60)
    assert check_question(f"  {at_limit} ", LIMITS) == at_limit


def test_a_text_file_named_mp4_is_not_a_video(tmp_path):
    with pytest.raises(VlkitError, match="^the upload is not a video this demo can decode") as error:
        check_video(text_file(tmp_path / "clip.mp4"), LIMITS)
    assert str(tmp_path) not in str(error.value)


def test_a_video_without_frames_is_refused(tmp_path):
    with pytest.raises(VlkitError, match="^the video has no frames$"):
        check_video(frameless_video(tmp_path / "empty.avi"), LIMITS)


def test_a_video_longer_than_the_limit_is_refused_and_a_short_one_passes(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path, render_video_frames(draw_video_spec(1, 0, 32, 64), 32, 64))  # 32 frames at 8 fps: 4 s
    with pytest.raises(VlkitError, match="the video lasts 4 s; the limit is 3 s"):
        check_video(path, DemoLimits(max_video_seconds=3))
    assert check_video(path, DemoLimits(max_video_seconds=5)) == path


@pytest.mark.parametrize("value,expected", [(3, 3), (3.0, 3), ("7", 7), (1, 1), (10, 10)])
def test_a_whole_number_in_range_is_read_from_a_control(value, expected):
    assert check_count(value, "beam size", 1, 10) == expected


@pytest.mark.parametrize("value", [0, 11, 2.5, None, "three", float("nan")])
def test_a_count_outside_the_range_or_not_whole_is_refused(value):
    with pytest.raises(VlkitError, match="beam size must be a whole number from 1 to 10"):
        check_count(value, "beam size", 1, 10)


@pytest.mark.parametrize("field", ["max_upload_mb", "max_image_pixels", "max_question_words", "max_video_seconds"])
def test_limits_must_be_positive(field):
    with pytest.raises(VlkitError, match=field.replace("_", "-")):
        DemoLimits(**{field: 0})
