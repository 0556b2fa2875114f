"""The demo's examples, from the embedded datasets only (nothing is downloaded): easy-VQA test images with
their questions, and new scenes and clips drawn by `vlkit.synth` the way the synthetic training sets are
(with a seed of their own, so they are not training items)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from vlkit.core.errors import VlkitError
from vlkit.synth.captions import draw_scene, place_objects
from vlkit.synth.videos import draw_video_spec, questions_for, render_video_frames, write_video

EXAMPLES_PER_TASK = 3
EXAMPLE_SEED = 2026
SCENE_SIZE = 64  # the synthetic sets' image and frame side
VIDEO_FRAMES = 32


def vqa_examples(folder: Path) -> list[list[str]]:
    """[image path, question] of easy-VQA test images copied into `folder`, one question of each answer type
    (yes/no, shape, colour) about three different images; [] when the easy-vqa package is not installed."""
    from vlkit.vqa.data.easyvqa_files import answer_type, default_root, read_answers, read_split

    try:
        root = default_root()
        split = read_split(root, "test", read_answers(root))
    except VlkitError:
        return []
    chosen: dict[str, list[str]] = {}
    for question, answer, image_id in zip(split.questions, split.answers, split.image_ids):
        kind = answer_type(answer)
        if kind in chosen or any(row[0].endswith(f"/easyvqa_{image_id}.png") for row in chosen.values()):
            continue
        path = folder / f"easyvqa_{image_id}.png"
        shutil.copyfile(split.image_paths[image_id], path)
        chosen[kind] = [str(path), question]
        if len(chosen) == EXAMPLES_PER_TASK:
            break
    return list(chosen.values())


def caption_examples(folder: Path) -> list[list[str]]:
    """[image path] of new synthetic shape scenes (one, two and three shapes) written into `folder`."""
    rng = np.random.default_rng(EXAMPLE_SEED)
    examples = []
    for count in range(1, EXAMPLES_PER_TASK + 1):
        path = folder / f"scene_{count}_shapes.png"
        draw_scene(place_objects(count, SCENE_SIZE, rng), SCENE_SIZE).save(path)
        examples.append([str(path)])
    return examples


def videoqa_examples(folder: Path) -> list[list[str]]:
    """[video path, question] of new synthetic clips (H.264 MP4) written into `folder`."""
    examples = []
    for video_id in range(1, EXAMPLES_PER_TASK + 1):
        spec = draw_video_spec(video_id, EXAMPLE_SEED, VIDEO_FRAMES, SCENE_SIZE)
        path = folder / f"{spec.clip_name}.mp4"
        write_video(path, render_video_frames(spec, VIDEO_FRAMES, SCENE_SIZE))
        questions = questions_for(spec)
        question, _ = questions[(video_id - 1) % len(questions)]
        examples.append([str(path), question])
    return examples


def write_examples(task: str, folder: Path) -> list[list[str]]:
    """The example rows of `task`'s page ("vqa", "caption", "videoqa"), files written under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    if task == "vqa":
        return vqa_examples(folder)
    if task == "caption":
        return caption_examples(folder)
    return videoqa_examples(folder)
