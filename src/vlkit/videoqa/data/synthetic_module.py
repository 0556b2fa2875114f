"""The embedded default (`data.dataset: synthetic_videos`): vlkit's procedural video-QA set, made on first use.

The set (`vlkit.synth.videos`: short videos of coloured shapes that move, bounce or appear, with questions
answerable only by watching them) is written in MSVD-QA's layout (videos, `youtube_mapping.txt`,
`annotations/{train,val,test}_qa.json`) into the cache (`$VLKIT_CACHE`, default `~/.cache/vlkit`, under
`synthetic-videoqa/<settings>/`), and its videos are decoded into a frame store there by the same code as
`vlkit videoqa prepare --frames`, so that training on it exercises the whole path; a second run reuses both.
"""

from __future__ import annotations

import fcntl
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from vlkit.core.cache import cache_dir
from vlkit.core.validation import check_positive_int
from vlkit.features.video_ids import video_files
from vlkit.synth.videos import make_synthetic_videoqa
from vlkit.videoqa.data.base import VideoQAOptions
from vlkit.videoqa.data.frames import MANIFEST, PROVIDES, FramesDataModule, read_frame_manifest, write_frame_store
from vlkit.videoqa.data.registry import register_dataset
from vlkit.videoqa.run_files import VideoQAVocabularies


@dataclass
class SyntheticVideoData(VideoQAOptions):
    """The data section of `data.dataset: synthetic_videos` (`folder`: where it goes; empty: the cache)."""

    folder: str = ""
    num_videos: int = 600  # split 70/15/15 into train/val/test videos
    set_seed: int = 0  # draws the scenes (trainer.seed draws the training order)
    clips: int = 8
    frames_per_clip: int = 4
    frame_stride: int = 4  # every 4th frame: a clip spans half of a 32-frame video, so its motion shows inside it
    frame_size: int = 32  # decoded frames are frame_size x frame_size

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self, "num_videos", "clips", "frames_per_clip", "frame_stride", "frame_size")


@register_dataset("synthetic_videos", SyntheticVideoData, PROVIDES)
class SyntheticVideoDataModule(FramesDataModule):
    """The synthetic set's annotations over its frame store, both made by the first process that needs them."""

    def __init__(self, options: SyntheticVideoData, seed: int, vocabularies: Optional[VideoQAVocabularies] = None):
        super().__init__(options, seed, vocabularies)
        self._root: Optional[Path] = None

    def root(self) -> Path:
        """The set's folder, written and decoded on first use."""
        if self._root is None:
            options = self.config
            name = f"{options.num_videos}-seed{options.set_seed}"
            root = Path(options.folder) if options.folder else cache_dir("synthetic-videoqa") / name
            make_synthetic_set(root, options)
            self._root = root
        return self._root

    def annotations_dir(self) -> Path:
        return self.root() / "raw" / "annotations"

    def frames_dir(self) -> Path:
        options = self.config
        return self.root() / frames_folder_name(options)


def frames_folder_name(options: SyntheticVideoData) -> str:
    """The frame store's folder: one per clip setting."""
    return (f"frames-{options.clips}x{options.frames_per_clip}-stride{options.frame_stride}-"
            f"{options.frame_size}px")


def make_synthetic_set(root: Path, options: SyntheticVideoData) -> None:
    """`root/raw` (the set) and its frame store (`frames_folder_name`), each made once, one process at a time."""
    root.mkdir(parents=True, exist_ok=True)
    frames = root / frames_folder_name(options)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (frames / MANIFEST).is_file() and read_frame_manifest(frames).get("complete"):
            return
        raw = root / "raw"
        if not (raw / "annotations" / "test_qa.json").is_file():
            shutil.rmtree(raw, ignore_errors=True)  # a set cut short by a kill: written again
            staging = root / "raw.partial"
            shutil.rmtree(staging, ignore_errors=True)
            make_synthetic_videoqa(staging, num_videos=options.num_videos, seed=options.set_seed)
            staging.rename(raw)
        write_frame_store(video_files(raw / "videos", raw / "youtube_mapping.txt"), frames, options.clips,
                          options.frames_per_clip, options.frame_size, workers=2, progress=False,
                          stride=options.frame_stride)
