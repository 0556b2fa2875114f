"""The frame store (decoded clips for models trained end to end) and the pixel summaries msvqa rebuilds on frames."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
import torch

from vlkit.core.errors import VlkitError
from vlkit.videoqa.clip_encoder import pixel_summaries
from vlkit.videoqa.data.frames import FrameSource, write_frame_store


def write_grey_video(path, levels: list[int], size: int = 32) -> None:
    """An MP4 whose frame t is a flat grey of levels[t] (lossless enough: flat frames survive H.264)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "0"}
        for level in levels:
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), level, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def test_frames_are_the_sampled_frames_of_each_video_and_a_rerun_keeps_them(tmp_path):
    write_grey_video(tmp_path / "a.mp4", [10 * t for t in range(12)])
    write_grey_video(tmp_path / "b.mp4", [200 - 10 * t for t in range(12)])
    manifest = write_frame_store({7: tmp_path / "a.mp4", 3: tmp_path / "b.mp4"}, tmp_path / "store", clips=2,
                                 frames_per_clip=2, size=16, workers=1, progress=False)
    assert manifest["complete"] and manifest["clip_shape"] == [2, 2]
    frames = FrameSource(tmp_path / "store").read(np.array([7, 3]))["frames"]
    assert frames.shape == (2, 2, 2, 16, 16, 3)
    # 12 frames, 2 clips: centres linspace(0, 12, 4)[1:3] = 4, 8; frames [c - 1, c + 1) = (3, 4) and (7, 8)
    levels = frames.float().mean(dim=(3, 4, 5))
    assert torch.allclose(levels[0], torch.tensor([[30.0, 40.0], [70.0, 80.0]]), atol=2)
    assert torch.allclose(levels[1], torch.tensor([[170.0, 160.0], [130.0, 120.0]]), atol=2)
    (tmp_path / "a.mp4").unlink()  # a rerun reads nothing again: every row is done
    assert write_frame_store({7: tmp_path / "a.mp4", 3: tmp_path / "b.mp4"}, tmp_path / "store", 2, 2, 16,
                             workers=1, progress=False)["complete"]


def test_a_corrupt_video_is_named_and_left_pending_unless_skipped(tmp_path):
    write_grey_video(tmp_path / "good.mp4", [100] * 8)
    (tmp_path / "bad.mp4").write_bytes(b"not a video at all")
    videos = {1: tmp_path / "good.mp4", 2: tmp_path / "bad.mp4"}
    with pytest.raises(VlkitError, match="1 video.*bad.mp4.*--skip-bad"):
        write_frame_store(videos, tmp_path / "store", 2, 2, 16, workers=1, progress=False)
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert not manifest["complete"] and manifest["failed_ids"] == [2]
    source = FrameSource(tmp_path / "store")
    assert source.has(np.array([1, 2])).tolist() == [True, False]
    manifest = write_frame_store(videos, tmp_path / "store", 2, 2, 16, workers=1, skip_bad=True, progress=False)
    assert manifest["complete"] and manifest["skipped_ids"] == [2]


def test_a_store_of_other_settings_is_never_overwritten(tmp_path):
    write_grey_video(tmp_path / "a.mp4", [50] * 8)
    write_frame_store({1: tmp_path / "a.mp4"}, tmp_path / "store", 2, 2, 16, workers=1, progress=False)
    with pytest.raises(VlkitError, match="other videos or settings"):
        write_frame_store({1: tmp_path / "a.mp4"}, tmp_path / "store", 2, 2, 24, workers=1, progress=False)


def test_pixel_summaries_are_the_mean_frame_and_the_mean_absolute_change():
    frames = torch.zeros(1, 1, 3, 8, 8, 3, dtype=torch.uint8)  # one video, one clip of three frames
    frames[0, 0, 0] = 0
    frames[0, 0, 1] = 255
    frames[0, 0, 2, :4] = 255  # the top half stays white, the bottom half goes back to black
    mean, change = pixel_summaries(frames)
    assert mean.shape == change.shape == (1, 1, 48)
    cells = mean.reshape(3, 4, 4)  # colour channel, then the rows and columns of the 4 x 4 grid
    # top cells: frames -1, 1, 1 -> mean 1/3; bottom cells: -1, 1, -1 -> -1/3
    assert torch.allclose(cells[:, :2], torch.full((3, 2, 4), 1 / 3), atol=1e-6)
    assert torch.allclose(cells[:, 2:], torch.full((3, 2, 4), -1 / 3), atol=1e-6)
    steps = change.reshape(3, 4, 4)  # |1 - (-1)| = 2 then 0 (top) or 2 (bottom): means 1 and 2
    assert torch.allclose(steps[:, :2], torch.ones(3, 2, 4))
    assert torch.allclose(steps[:, 2:], torch.full((3, 2, 4), 2.0))
