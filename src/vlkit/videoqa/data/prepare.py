"""`vlkit videoqa prepare`: from a video folder and its QA annotations to what training reads.

Checks the annotations (`{train,val,test}_qa.json`) and matches their video ids with the video files
(MSVD through `youtube_mapping.txt`, MSRVTT by `video<N>` names) before any decoding starts, then writes
either the two clip-feature stores that `data.dataset: clip_features` reads (`out/appearance`: ResNet
features per frame; `out/motion`: 3D-CNN features per clip; `vlkit.features.video`), or, with `frames`,
the frame store that models trained end to end read (`out/frames`; `vlkit.videoqa.data.frames`). Only the
videos the questions name are decoded. Every step resumes when rerun.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from vlkit.core.errors import VlkitError
from vlkit.features.video import extract_video_features
from vlkit.features.video_ids import video_files
from vlkit.videoqa.data.annotations import SPLITS, read_qa_split
from vlkit.videoqa.data.frames import write_frame_store

log = logging.getLogger("vlkit")


@dataclass
class FeatureSettings:
    """The networks of the two clip-feature stores (`vlkit.features.video`)."""

    appearance_model: str = "resnet101"
    appearance_weights: Optional[Path] = None
    motion_model: str = "resnext101"
    motion_weights: Optional[Path] = None
    random_weights: bool = False
    batch_size: int = 2  # videos per forward pass
    device: str = "cpu"
    half: Optional[str] = None


@dataclass
class PreparedVideos:
    """What `prepare_videoqa` wrote: the stores and the questions they cover."""

    out: Path
    stores: dict[str, str]
    questions: dict[str, int]  # per split
    videos: int  # videos the questions name
    videos_missing: list[int] = field(default_factory=list)  # named by questions, absent from the folder
    videos_failed: list[int] = field(default_factory=list)  # present but unreadable (skipped with skip_bad)
    complete: bool = True


def question_videos(annotations: Path) -> tuple[dict[str, int], set[int]]:
    """Questions per split and the video ids they name, after reading and checking every split file."""
    counts, videos = {}, set()
    for split in SPLITS:
        records = read_qa_split(annotations, split)
        counts[split] = len(records)
        videos.update(record.video_id for record in records)
    return counts, videos


def check_output_folder(out: Path, inputs: dict[str, Path]) -> None:
    """`out` must be a folder (or not exist yet) apart from every input folder: inputs are never written into."""
    if out.exists() and not out.is_dir():
        raise VlkitError(f"--out {out} is a file; give a folder for the stores")
    for option, folder in inputs.items():
        if folder.exists() and out.resolve() == folder.resolve():
            raise VlkitError(f"--out {out} is the {option} folder; give a folder of its own (inputs are never "
                             "written into)")


def prepare_videoqa(videos_dir: Path, mapping: Optional[Path], annotations: Path, out: Path, frames: bool,
                    clips: int, frames_per_clip: int, frame_size: Optional[int], settings: FeatureSettings,
                    workers: Optional[int] = None, skip_bad: bool = False, frame_stride: int = 1) -> PreparedVideos:
    """Write the stores of the annotated videos under `out`; see the module docstring. `frame_stride` (frames only)
    takes every s-th frame in a clip; features keep HCRN's consecutive frames."""
    if frame_stride != 1 and not frames:
        raise VlkitError("--frame-stride applies to --frames; clip features keep HCRN's consecutive frames")
    check_output_folder(Path(out), {"--videos": Path(videos_dir), "--annotations": Path(annotations)})
    counts, named = question_videos(annotations)
    files = video_files(videos_dir, mapping, skip_bad)
    missing = sorted(named - set(files))
    if missing and not skip_bad:
        raise VlkitError(f"{len(missing)} of the {len(named)} videos the questions name are not in {videos_dir} "
                         f"(video ids {missing[:10]}{' ...' if len(missing) > 10 else ''}); check --videos and "
                         "--mapping, or rerun with --skip-bad to prepare the others (their questions are left out)")
    if missing:
        log.warning("%d of the %d annotated videos are not in %s; their questions will be left out", len(missing),
                    len(named), videos_dir)
    wanted = {video_id: path for video_id, path in files.items() if video_id in named}
    if not wanted:
        raise VlkitError(f"no video in {videos_dir} is named by the questions in {annotations}")
    result = PreparedVideos(Path(out), {}, counts, len(named), missing)
    if frames:
        manifest = write_frame_store(wanted, Path(out) / "frames", clips, frames_per_clip, frame_size or 112,
                                     workers or 0, skip_bad, stride=frame_stride)
        result.stores["frames"] = str(Path(out) / "frames")
        result.videos_failed = list(manifest["skipped_ids"])
        result.complete = bool(manifest["complete"])
        return result
    for kind, model, weights in (("appearance", settings.appearance_model, settings.appearance_weights),
                                 ("motion", settings.motion_model, settings.motion_weights)):
        report = extract_video_features(wanted, Path(out) / kind, kind, model, weights, settings.random_weights, clips,
                                        frames_per_clip, settings.batch_size, workers, (0, 1), settings.device,
                                        skip_bad, frame_size, settings.half)
        result.stores[kind] = str(Path(out) / kind)
        result.videos_failed = sorted(set(result.videos_failed) | {video_id for video_id, _ in report.bad})
        result.complete = result.complete and report.complete
    return result
