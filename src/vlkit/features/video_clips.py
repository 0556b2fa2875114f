"""Decode a video with PyAV into C clips of F consecutive frames, sampled as HCRN samples them.

Sampling (HCRN, thaolmk54/hcrn-videoqa, preprocess/preprocess_features.py,
`extract_clips_with_consecutive_frames`; DualVGR, NJUPT-MCC/DualVGR-VideoQA, preprocess/preprocess_features.py,
does the same): a video of T decoded frames gets C clip centres `linspace(0, T, C + 2)[1:C+1]`, truncated to
integers (`dtype=np.int32`). The clip around centre c is the F frames c - F/2 ... c + F/2 - 1. A clip that
starts before frame 0 repeats frame 0 in front; a clip that runs past the end repeats the last frame
T - 1 behind; both are "clamp the index into [0, T - 1]". One quirk is kept on purpose, so that
features extracted here match the ones HCRN and DualVGR published: when a clip starts at or before
frame 0 and runs past the end (the video is shorter than the clip around its centre, e.g. T < 16), the
reference takes frames 0 ... T - 2
(its end is set to T - 1, exclusive), pads frame 0 in front for the shortage and again frame T - 1
behind, then keeps the first F frames: the clip is frame 0 repeated F - T + 2 times then frames
1 ... T - 2, the same for every centre, and the last frame never appears. (With T = 5, F = 16: 13 x
frame 0, then 1, 2, 3.) HCRN uses F = 16 only; for odd F (a vlkit extension) a clip starts at c - F // 2.

Frames are RGB (HCRN reads them with skvideo/ffmpeg as rgb24, DualVGR with OpenCV then swaps BGR to
RGB) and resized directly to the output size, without keeping the aspect ratio or cropping, with
PIL's bicubic filter (HCRN: `scipy.misc.imresize(..., interp='bicubic')`, which calls PIL; DualVGR:
PIL `Image.BICUBIC`). T counts the frames PyAV decodes; the reference counts what skvideo (ffmpeg)
reads, which agrees unless the container's frame rate makes ffmpeg drop or repeat frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import av
import numpy as np
from PIL import Image

from vlkit.core.errors import VlkitError

Size = Union[int, tuple[int, int]]


def sample_clip_frames(num_frames: int, clips: int, frames_per_clip: int, stride: int = 1) -> np.ndarray:
    """(C, F) int64 frame indices of the clips HCRN takes from a video of `num_frames` frames (see the module).

    `stride` s > 1 (a vlkit extension) takes every s-th frame instead of consecutive ones: the clip around
    centre c is c - (F s) // 2 + s k, k = 0 ... F - 1, clamped into [0, T - 1], so that a clip of F frames
    spans F s frames of the video (slow motion becomes visible inside one clip)."""
    if num_frames < 1:
        raise VlkitError(f"a video needs at least 1 frame to sample clips from, got {num_frames}")
    if clips < 1 or frames_per_clip < 1 or stride < 1:
        raise VlkitError(f"clips, frames per clip and the frame stride must be at least 1, got {clips} x "
                         f"{frames_per_clip}, stride {stride}")
    centres = np.linspace(0, num_frames, clips + 2)[1:clips + 1].astype(np.int64)  # (C,)
    starts = centres - (frames_per_clip * stride) // 2
    offsets = np.arange(frames_per_clip) * stride
    indices = np.clip(starts[:, None] + offsets[None, :], 0, num_frames - 1)  # (C, F)
    if stride == 1:
        whole_video = (starts <= 0) & (starts + frames_per_clip > num_frames)
        indices[whole_video] = np.maximum(offsets - (frames_per_clip - num_frames + 1), 0)
    return indices


def _output_size(size: Size) -> tuple[int, int]:
    height, width = (size, size) if isinstance(size, int) else size
    if height < 1 or width < 1:
        raise VlkitError(f"frame size must be positive, got {height} x {width}")
    return int(height), int(width)


def _count_packets(path: Path) -> int:
    """Frames the container holds, from its packets (no decoding): the usual frame count, checked later."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VlkitError(f"{path.name}: the file has no video stream")
        return sum(1 for packet in container.demux(container.streams.video[0]) if packet.size)


def _decode_frames(path: Path, wanted: set[int], size: tuple[int, int], threads: int) -> tuple[dict, int]:
    """Decode every frame; keep the `wanted` ones resized to `size` (H, W). Returns ({index: (H, W, 3)}, T)."""
    kept: dict[int, np.ndarray] = {}
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = threads
        for count, frame in enumerate(container.decode(stream), start=1):
            if count - 1 in wanted:
                image = frame.to_image().resize((size[1], size[0]), Image.BICUBIC)
                kept[count - 1] = np.asarray(image, dtype=np.uint8)
    return kept, count


def read_clips(path: Path, clips: int, frames_per_clip: int, size: Size,
               decoder_threads: int = 0, stride: int = 1) -> tuple[np.ndarray, int]:
    """Clips (C, F, H, W, 3) uint8 of the video at `path` and its number of frames T.

    The frames are decoded once: T is first taken from the packet count; should decoding give
    another count, the video is decoded again for the clips of the true T. `decoder_threads` 0 lets
    FFmpeg choose (use 1 inside worker processes, which already fill the cores).
    """
    path = Path(path)
    height, width = _output_size(size)
    if not path.is_file():
        raise VlkitError(f"{path.name}: file not found ({path})")
    try:
        guess = _count_packets(path)
        indices = sample_clip_frames(max(guess, 1), clips, frames_per_clip, stride)
        kept, total = _decode_frames(path, set(indices.flat), (height, width), decoder_threads)
        if total == 0:
            raise VlkitError(f"{path.name}: the video has no frames that decode")
        if total != guess:
            indices = sample_clip_frames(total, clips, frames_per_clip, stride)
            kept, recount = _decode_frames(path, set(indices.flat), (height, width), decoder_threads)
            if recount != total:
                raise VlkitError(f"{path.name}: decoding gives {total} frames, then {recount}")
    except (av.FFmpegError, OSError, ValueError, MemoryError) as error:
        raise VlkitError(f"{path.name}: cannot decode the video ({str(error).splitlines()[0][:200]})") from error
    frames = np.stack([kept[int(i)] for i in indices.flat])  # (C * F, H, W, 3)
    return frames.reshape(clips, frames_per_clip, height, width, 3), total


def decode_clips(path: Path, clips: int, frames_per_clip: int, size: Size, stride: int = 1) -> np.ndarray:
    """Clips (C, F, H, W, 3) uint8 RGB of the video at `path`, sampled and resized as HCRN does (`size`: S for
    S x S, or (H, W); `stride`: see `sample_clip_frames`); a missing, corrupt or frameless video raises
    VlkitError naming the file."""
    return read_clips(path, clips, frames_per_clip, size, stride=stride)[0]
