"""Decoded clip frames on disk, and questions over them (`data.dataset: video_frames`).

Models trained end to end (`vlkit.videoqa.clip_encoder`) read small raw frames rather than features. A
frame store holds each video's C clips x F frames, sampled as the feature extraction samples them
(`vlkit.features.video_clips`), resized to S x S:

    manifest.json  kind "frames", clip_shape [C, F], size S, frame_stride, count, complete, skipped_ids,
                   failed_ids
    ids.npy        (N,) int64 sorted video ids
    frames.npy     (N, C, F, S, S, 3) uint8
    done.npy       (N,) bool: a row is marked done only after its frames are flushed to disk

Writing resumes (rows done are kept); a video that cannot be decoded is reported by name. Batches add
    frames       (U, C, F, S, S, 3) uint8  the distinct videos of the batch
    video_index  (B,) int64                each question's video among them
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from vlkit.core.errors import VlkitError
from vlkit.core.files import read_folder_manifest, write_json_atomic
from vlkit.features.store import record_bad_items
from vlkit.features.video_clips import decode_clips
from vlkit.features.video_ids import video_files
from vlkit.videoqa.data.base import QUESTION_KEYS, VideoQADataModule, VideoQAOptions
from vlkit.videoqa.data.registry import register_dataset
from vlkit.videoqa.run_files import VideoQAVocabularies

MANIFEST = "manifest.json"
PROVIDES = ("frames", "video_index", *QUESTION_KEYS)


def _decode_one(job: tuple[int, str, int, int, int, int]) -> tuple[int, Optional[np.ndarray], str]:
    """(video id, path, C, F, S, stride) -> (video id, frames (C, F, S, S, 3) or None, why not)."""
    video_id, path, clips, frames_per_clip, size, stride = job
    try:
        return video_id, decode_clips(path, clips, frames_per_clip, size, stride), ""
    except VlkitError as error:
        return video_id, None, str(error)


def write_frame_store(videos: dict[int, Path], out: Path, clips: int, frames_per_clip: int, size: int,
                      workers: int = 0, skip_bad: bool = False, progress: bool = True, stride: int = 1) -> dict:
    """Decode every video of `videos` (id -> file) into the frame store `out`; rerunning resumes.

    Returns the manifest. Unreadable videos are an error naming them (the store stays incomplete and the
    next run retries them) unless `skip_bad`, which records them as skipped.
    """
    if not videos:
        raise VlkitError("no videos to decode")
    out = Path(out)
    ids = np.array(sorted(videos), dtype=np.int64)
    identity = {"kind": "frames", "clip_shape": [clips, frames_per_clip], "size": size, "frame_stride": stride,
                "count": len(ids)}
    if (out / MANIFEST).is_file():
        manifest = read_frame_manifest(out)
        if any(manifest.get(key) != value for key, value in identity.items()) or \
                not np.array_equal(np.load(out / "ids.npy"), ids):
            raise VlkitError(f"{out} holds frames of other videos or settings; choose a new folder or delete it")
    else:
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "ids.npy", ids)
        for name, shape, dtype in (("frames", (len(ids), clips, frames_per_clip, size, size, 3), np.uint8),
                                   ("done", (len(ids),), bool)):
            np.lib.format.open_memmap(out / f"{name}.npy", mode="w+", dtype=dtype, shape=shape).flush()
        manifest = {**identity, "complete": False, "skipped_ids": [], "failed_ids": []}
        write_json_atomic(out / MANIFEST, manifest)
    frames = np.load(out / "frames.npy", mmap_mode="r+")
    done = np.load(out / "done.npy", mmap_mode="r+")
    pending = ids[~np.asarray(done)]
    jobs = [(int(i), str(videos[int(i)]), clips, frames_per_clip, size, stride) for i in pending]
    bad: list[tuple[int, str]] = []
    workers = workers if workers > 0 else min(len(jobs), os.cpu_count() or 1)
    with ProcessPoolExecutor(max(workers, 1)) as pool:
        results = pool.map(_decode_one, jobs, chunksize=4) if workers > 1 else map(_decode_one, jobs)
        for video_id, decoded, reason in tqdm(results, total=len(jobs), desc="decoding videos", disable=not progress):
            if decoded is None:
                bad.append((video_id, reason))
                continue
            row = int(np.searchsorted(ids, video_id))
            frames[row] = decoded
            frames.flush()
            done[row] = True
            done.flush()
    record_bad_items(manifest, ids, np.asarray(done), [video_id for video_id, _ in bad], skip_bad)
    write_json_atomic(out / MANIFEST, manifest)
    if bad and not skip_bad:
        listed = "; ".join(reason for _, reason in bad[:5]) + ("; ..." if len(bad) > 5 else "")
        raise VlkitError(f"{len(bad)} video(s) could not be decoded ({listed}); {out} is not complete: fix or "
                         "remove them and rerun to finish it, or rerun with --skip-bad (the videos done are kept)")
    return manifest


def read_frame_manifest(directory: Path) -> dict:
    """The manifest of a frame store, after checking its files are there."""
    manifest = read_folder_manifest(directory, MANIFEST, "vlkit frame store", "vlkit videoqa prepare --frames")
    if manifest.get("kind") != "frames":
        raise VlkitError(f"{Path(directory) / MANIFEST} is not the manifest of a frame store")
    missing = [name for name in ("ids.npy", "frames.npy", "done.npy") if not (Path(directory) / name).is_file()]
    if missing:
        raise VlkitError(f"{directory} is not a complete frame store: {', '.join(missing)} missing")
    return manifest


class FrameSource:
    """Frames (U, C, F, S, S, 3) uint8 of a frame store's videos; cheap to pickle (arrays reopened per process)."""

    per_question = False

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.manifest = read_frame_manifest(self.directory)
        self.ids = np.load(self.directory / "ids.npy")
        self.done = np.load(self.directory / "done.npy")
        self._frames: Optional[np.ndarray] = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_frames": None}

    def has(self, video_ids: np.ndarray) -> np.ndarray:
        rows = np.searchsorted(self.ids, video_ids).clip(max=len(self.ids) - 1)
        return (self.ids[rows] == video_ids) & self.done[rows]

    def read(self, video_ids: np.ndarray) -> dict[str, torch.Tensor]:
        if self._frames is None:
            self._frames = np.load(self.directory / "frames.npy", mmap_mode="r")
        rows = np.searchsorted(self.ids, video_ids)
        return {"frames": torch.from_numpy(np.ascontiguousarray(self._frames[rows]))}


@dataclass
class VideoFramesData(VideoQAOptions):
    """The data section of `data.dataset: video_frames`: annotations over a frame store."""

    annotations: Optional[str] = None  # folder of {train,val,test}_qa.json
    frames: Optional[str] = None  # frame store (vlkit videoqa prepare --frames)


class FramesDataModule(VideoQADataModule):
    """Questions over the videos of a frame store; subclasses say where the annotations and the store are."""

    def __init__(self, options: VideoQAOptions, seed: int, vocabularies: Optional[VideoQAVocabularies] = None):
        super().__init__(options, seed, vocabularies)
        self._source: Optional[FrameSource] = None

    def frames_dir(self) -> Path:
        return Path(self.config.frames)

    def video_source(self) -> FrameSource:
        if self._source is None:
            self._source = FrameSource(self.frames_dir())
        return self._source

    def video_input(self) -> dict:
        manifest = self.video_source().manifest
        return {"kind": "frames", "clip_shape": manifest["clip_shape"], "frame_size": manifest["size"],
                "frame_stride": manifest.get("frame_stride", 1)}

    def video_source_name(self) -> str:
        return str(self.frames_dir())


@register_dataset("video_frames", VideoFramesData, PROVIDES)
class VideoFramesDataModule(FramesDataModule):
    """`data.annotations` over the frame store `data.frames`."""

    def __init__(self, options: VideoFramesData, seed: int, vocabularies: Optional[VideoQAVocabularies] = None):
        super().__init__(options, seed, vocabularies)
        for key in ("annotations", "frames"):
            if not getattr(options, key):
                raise VlkitError(f"data.{key} is not set: video_frames needs data.annotations (the folder of "
                                 "{train,val,test}_qa.json) and data.frames (a frame store made by "
                                 "vlkit videoqa prepare --frames)")

    def annotations_dir(self) -> Path:
        return Path(self.config.annotations)


def frame_store_for(videos_dir: Path, mapping: Optional[Path], out: Path, clips: int, frames_per_clip: int,
                    size: int, workers: int = 0, skip_bad: bool = False, progress: bool = True) -> dict:
    """`write_frame_store` over the video files of a folder (MSVD names through `mapping`, or `video<N>` names)."""
    return write_frame_store(video_files(videos_dir, mapping), out, clips, frames_per_clip, size, workers, skip_bad,
                             progress)
