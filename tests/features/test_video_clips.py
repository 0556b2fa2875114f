"""HCRN's clip sampling (hand-computed indices and a transcription of its loop) and PyAV decoding of real files."""

import av
import numpy as np
import pytest

from vlkit.core.errors import VlkitError
from vlkit.features.video_clips import decode_clips, read_clips, sample_clip_frames

LEVELS = [20 + 30 * k for k in range(7)]  # frame k of the test videos is solid grey LEVELS[k]


def write_video(path, levels, codec="libx264", size=32):
    """A video whose frame k is a solid grey of value levels[k]."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for level in levels:
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), level, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def frame_numbers(clips):
    """(C, F) number of the source frame each decoded solid-grey frame shows."""
    means = clips.astype(np.float64).mean(axis=(2, 3, 4))
    numbers = np.abs(means[..., None] - np.array(LEVELS)).argmin(-1)
    assert np.abs(means - np.array(LEVELS)[numbers]).max() < 6  # each frame is clearly one of the levels
    return numbers


def hcrn_clips(total, clips, frames_per_clip):
    """HCRN's extract_clips_with_consecutive_frames (preprocess/preprocess_features.py) on frame numbers."""
    video = list(range(total))
    result = []
    for centre in np.linspace(0, total, clips + 2).astype(int)[1:clips + 1]:
        start, end = centre - frames_per_clip // 2, centre + frames_per_clip // 2
        start = max(start, 0)
        if end > total:
            end = total - 1
        clip = video[start:end]
        if start == 0:
            clip = [video[0]] * (frames_per_clip - (end - start)) + clip
        if end == total - 1:
            clip = clip + [video[end]] * (frames_per_clip - (end - start))
        result.append(clip[:frames_per_clip])
    return np.array(result)


def test_a_1000_frame_video_gives_16_frames_around_eight_centres():
    # centres: floor(1000 k / 9) for k = 1..8
    centres = [111, 222, 333, 444, 555, 666, 777, 888]
    expected = np.array([np.arange(c - 8, c + 8) for c in centres])
    np.testing.assert_array_equal(sample_clip_frames(1000, 8, 16), expected)


def test_an_odd_length_video_repeats_the_first_and_last_frame_at_its_edges():
    # T = 21: centres floor(21 k / 9) = 2, 4, 7, 9, 11, 14, 16, 18
    indices = sample_clip_frames(21, 8, 16)
    assert indices.shape == (8, 16)
    np.testing.assert_array_equal(indices[0], [0] * 7 + list(range(1, 10)))  # frames -6..9, the 6 negative ones -> 0
    np.testing.assert_array_equal(indices[3], range(1, 17))  # 9 - 8 .. 9 + 7
    np.testing.assert_array_equal(indices[7], list(range(10, 20)) + [20] * 6)  # 10..25, past 20 -> 20


def test_a_5_frame_video_gives_hcrns_clip_without_the_last_frame_for_every_centre():
    # every clip runs past both ends: HCRN takes frames 0..3, pads frame 0 in front (and frame 4 behind, cut off)
    expected = [0] * 13 + [1, 2, 3]
    np.testing.assert_array_equal(sample_clip_frames(5, 8, 16), np.array([expected] * 8))


def test_a_clip_starting_exactly_at_frame_0_and_running_past_the_end_follows_hcrn():
    # T = 9: the last centre floor(9 * 8 / 9) = 8 starts at 0 and ends at 16 > 9: frames 0..7 after 8 x frame 0
    np.testing.assert_array_equal(sample_clip_frames(9, 8, 16)[7], [0] * 9 + list(range(1, 8)))


@pytest.mark.parametrize("clips,frames_per_clip", [(8, 16), (3, 4), (1, 12), (24, 16), (2, 2)])
def test_sampling_equals_hcrns_loop_for_every_length_up_to_300(clips, frames_per_clip):
    for total in range(1, 301):
        np.testing.assert_array_equal(sample_clip_frames(total, clips, frames_per_clip),
                                      hcrn_clips(total, clips, frames_per_clip), err_msg=f"T={total}")


def test_sampling_refuses_an_empty_video_and_empty_clips():
    with pytest.raises(VlkitError, match="at least 1 frame"):
        sample_clip_frames(0, 8, 16)
    with pytest.raises(VlkitError, match="at least 1"):
        sample_clip_frames(10, 0, 16)


@pytest.mark.parametrize("name,codec", [("clip.mp4", "libx264"), ("clip.avi", "mpeg4")])
def test_decoded_clips_show_the_frames_hcrn_samples(tmp_path, name, codec):
    video = write_video(tmp_path / name, LEVELS, codec)
    # T = 7, C = 3, F = 4: centres floor(7 k / 4) = 1, 3, 5; clips c - 2 .. c + 1, clamped
    clips, total = read_clips(video, 3, 4, (16, 24))
    assert total == 7 and clips.shape == (3, 4, 16, 24, 3) and clips.dtype == np.uint8
    np.testing.assert_array_equal(frame_numbers(clips), [[0, 0, 1, 2], [1, 2, 3, 4], [3, 4, 5, 6]])
    # one clip of 12 frames from 7: HCRN's short-video clip, 7 x frame 0 then 1..5
    np.testing.assert_array_equal(frame_numbers(decode_clips(video, 1, 12, 8)), [[0] * 7 + [1, 2, 3, 4, 5]])


def test_a_corrupt_file_is_an_error_naming_it(tmp_path):
    broken = tmp_path / "video3.mp4"
    broken.write_bytes(b"not a video at all" * 50)
    with pytest.raises(VlkitError, match="video3.mp4"):
        decode_clips(broken, 2, 2, 16)


def test_a_video_without_frames_is_an_error_naming_it(tmp_path):
    empty = tmp_path / "video4.avi"
    with av.open(str(empty), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 32
        container.start_encoding()
    with pytest.raises(VlkitError, match="video4.avi: the video has no frames"):
        decode_clips(empty, 2, 2, 16)


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(VlkitError, match="video5.mp4: file not found"):
        decode_clips(tmp_path / "video5.mp4", 2, 2, 16)


def test_a_wrong_packet_count_is_corrected_by_the_decoded_frame_count(tmp_path, monkeypatch):
    video = write_video(tmp_path / "video1.mp4", LEVELS)
    monkeypatch.setattr("vlkit.features.video_clips._count_packets", lambda path: 3)
    clips, total = read_clips(video, 3, 4, 16)
    assert total == 7
    np.testing.assert_array_equal(frame_numbers(clips), [[0, 0, 1, 2], [1, 2, 3, 4], [3, 4, 5, 6]])


def test_a_frame_stride_spreads_each_clip_over_stride_times_as_many_frames():
    # T = 32, C = 2: centres linspace(0, 32, 4)[1:3] = 10, 21; F = 4, s = 4: starts 10 - 8 = 2 and 21 - 8 = 13
    assert sample_clip_frames(32, 2, 4, stride=4).tolist() == [[2, 6, 10, 14], [13, 17, 21, 25]]
    # clamped at the ends: T = 10, C = 1 (centre 5), F = 4, s = 3: start 5 - 6 = -1 -> -1, 2, 5, 8 -> 0, 2, 5, 8
    assert sample_clip_frames(10, 1, 4, stride=3).tolist() == [[0, 2, 5, 8]]
