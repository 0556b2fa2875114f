"""Which integer video id each video file has, as the MSVD-QA and MSRVTT-QA annotations name them.

- MSRVTT: files are `video<N>.mp4` (in `TrainValVideo/` and `TestVideo/`): the id is N.
- MSVD: files are named by their YouTube clip (`-4wsuPCjDBc_5_15.avi`); `youtube_mapping.txt` maps each
  clip to its id, one `<clip name> vid<N>` per line, separated by one space (HCRN,
  thaolmk54/hcrn-videoqa, preprocess/datautils/msvd_qa.py reads it so and opens `YouTubeClips/<clip>.avi`).
Folders are searched recursively, so the dataset's root folder can be given.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from vlkit.core.errors import VlkitError

VIDEO_SUFFIXES = (".avi", ".mp4", ".webm", ".mkv", ".mov", ".mpg", ".mpeg", ".m4v")
MSRVTT_NAME = re.compile(r"^video(\d+)$")
MAPPING_LINE = re.compile(r"^(\S+) vid(\d+)$")


def list_video_files(videos_dir: Path) -> list[Path]:
    """Every video file under `videos_dir` (recursively), sorted."""
    if not videos_dir.is_dir():
        raise VlkitError(f"video folder not found: {videos_dir}")
    files = sorted(p for p in videos_dir.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not files:
        raise VlkitError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) under {videos_dir}")
    return files


def read_youtube_mapping(mapping: Path) -> dict[str, int]:
    """MSVD's `youtube_mapping.txt`: clip name -> video id; blank lines are ignored."""
    if not mapping.is_file():
        raise VlkitError(f"mapping file not found: {mapping}")
    clip_ids: dict[str, int] = {}
    clip_of_id: dict[int, str] = {}
    for number, line in enumerate(mapping.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        match = MAPPING_LINE.match(line.strip())
        if match is None:
            raise VlkitError(f"{mapping}, line {number}: {line.strip()[:80]!r} is not '<clip name> vid<N>' "
                             "(MSVD's youtube_mapping.txt, e.g. '-4wsuPCjDBc_5_15 vid1')")
        clip, video_id = match.group(1), int(match.group(2))
        if clip in clip_ids:
            raise VlkitError(f"{mapping}, line {number}: clip {clip} is mapped twice (vid{clip_ids[clip]} and "
                             f"vid{video_id})")
        if video_id in clip_of_id:
            raise VlkitError(f"{mapping}, line {number}: vid{video_id} is given to two clips "
                             f"({clip_of_id[video_id]} and {clip})")
        clip_ids[clip] = video_id
        clip_of_id[video_id] = clip
    if not clip_ids:
        raise VlkitError(f"{mapping} maps no clips (expected lines '<clip name> vid<N>')")
    return clip_ids


def _msrvtt_ids(files: list[Path]) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for path in files:
        match = MSRVTT_NAME.match(path.stem)
        if match is None:
            raise VlkitError(f"cannot read a video id from {path.name}: expected MSRVTT names video<N> "
                             "(e.g. video7010.mp4); for MSVD's YouTube clip names pass --mapping youtube_mapping.txt")
        video_id = int(match.group(1))
        if video_id in found:
            raise VlkitError(f"{found[video_id]} and {path} have the same video id {video_id}")
        found[video_id] = path
    return found


def _mapped_ids(videos_dir: Path, files: list[Path], mapping: Path, skip_bad: bool) -> dict[int, Path]:
    clip_ids = read_youtube_mapping(mapping)
    on_disk: dict[str, Path] = {}
    for path in files:
        if path.stem in on_disk:
            raise VlkitError(f"{on_disk[path.stem]} and {path} are the same clip {path.stem}")
        on_disk[path.stem] = path
    missing = sorted(clip for clip in clip_ids if clip not in on_disk)
    if missing and not skip_bad:
        listed = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise VlkitError(f"{len(missing)} clip(s) of {mapping.name} are not in the video folder ({listed}); "
                         "rerun with --skip-bad to extract the others (the missing ones are recorded as skipped)")
    return {video_id: on_disk.get(clip, videos_dir / f"{clip}.avi") for clip, video_id in clip_ids.items()}


def video_files(videos_dir: Path, mapping: Optional[Path] = None, skip_bad: bool = False) -> dict[int, Path]:
    """Video id -> file of every video under `videos_dir`.

    Without `mapping`, files must be named `video<N>.<ext>` (MSRVTT). With `mapping` (MSVD's
    `youtube_mapping.txt`) every mapped clip gets its id; files not in the mapping are ignored. A mapped
    clip missing on disk is an error unless `skip_bad`: then it keeps the path `videos_dir/<clip>.avi`, which
    does not exist, so that extraction reports it as unreadable and records it among the store's skipped ids.
    """
    files = list_video_files(videos_dir)
    found = _mapped_ids(videos_dir, files, mapping, skip_bad) if mapping is not None else _msrvtt_ids(files)
    return dict(sorted(found.items()))
