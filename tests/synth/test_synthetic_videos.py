"""The synthetic video-QA set: MSVD-QA's file layout, clips that decode close to what was drawn, shapes that move as
their motion says, answers that the pixels bear out, balanced answers, determinism."""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import av
import numpy as np
import pytest

from vlkit.core.errors import VlkitError
from vlkit.synth.videos import draw_video_spec, make_synthetic_videoqa, questions_for, render_video_frames

MSVD_QA = Path("/work/shared/data/msvd-qa")
FRAMES, SIZE, SEED, VIDEOS = 32, 64, 5, 30
PALETTE = {"red": (220, 30, 30), "green": (40, 170, 40), "blue": (30, 60, 220), "yellow": (235, 220, 40)}
NUMBERS = {1: "one", 2: "two", 3: "three"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("videoqa")
    started = time.perf_counter()
    summary = make_synthetic_videoqa(out, num_videos=VIDEOS, seed=SEED, frames=FRAMES, size=SIZE)
    seconds = time.perf_counter() - started
    splits = {split: json.loads((out / "annotations" / f"{split}_qa.json").read_text())
              for split in ("train", "val", "test")}
    return out, summary, splits, seconds


@pytest.fixture(scope="module")
def drawn():
    """The first 60 clips of the set of SEED: video id -> (spec, frames as drawn, colour masks of those frames)."""
    clips = {}
    for video_id in range(1, 61):
        spec = draw_video_spec(video_id, SEED, FRAMES, SIZE)
        frames = render_video_frames(spec, FRAMES, SIZE)
        clips[video_id] = spec, frames, color_masks(frames)
    return clips


def decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def color_masks(clip: np.ndarray, tolerance: int = 0) -> dict[str, np.ndarray]:
    """Per palette colour, the (T, H, W) pixels within `tolerance` (max channel difference) of it."""
    channels = [clip[..., c].astype(np.int16) for c in range(3)]
    return {name: np.logical_and.reduce([np.abs(channel - value) <= tolerance for channel, value in zip(channels, rgb)])
            for name, rgb in PALETTE.items()}


def centroids(mask: np.ndarray) -> list:
    """(x, y) of the mask's pixels per frame, None where the frame has none of them."""
    points = []
    for frame in mask:
        ys, xs = np.nonzero(frame)
        points.append((xs.mean(), ys.mean()) if len(xs) else None)
    return points


def scene_from_pixels(masks: dict[str, np.ndarray], size: int) -> dict[str, dict]:
    """What the frames show, worked out from the pixels alone: per colour present, its kind (from how much of its
    bounding box it fills: square 1, circle pi/4, triangle 1/2) and its motion (from its centroid over time)."""
    scene = {}
    for color, mask in masks.items():
        points = centroids(mask)
        if all(p is None for p in points):
            continue
        last = mask[-1]
        ys, xs = np.nonzero(last)
        fill = last.sum() / ((xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1))
        kind = "square" if fill > 0.95 else "circle" if fill > 0.68 else "triangle"
        if points[0] is None:
            motion = "appear"
        else:
            (x0, y0), (x1, y1) = points[0], points[-1]
            highest = min(p[1] for p in points)
            if abs(x1 - x0) > 0.3 * size:
                motion = "left" if x1 < x0 else "right"
            elif abs(y1 - y0) > 0.3 * size:
                motion = "up" if y1 < y0 else "down"
            elif y0 - highest > 0.2 * size:
                motion = "bounce"
            else:
                assert max(abs(p[0] - x0) + abs(p[1] - y0) for p in points) < 1e-9, color
                motion = "still"
        scene[color] = {"kind": kind, "motion": motion}
    return scene


def answer_from_pixels(question: str, scene: dict[str, dict]) -> str:
    """The answer to one of the set's questions, worked out from `scene_from_pixels`."""
    phrases = {"moves to the left": "left", "moves to the right": "right", "moves up": "up", "moves down": "down",
               "bounces": "bounce", "appears": "appear"}
    if question == "how many shapes move":
        return NUMBERS[sum(s["motion"] in ("left", "right", "up", "down", "bounce") for s in scene.values())]
    if match := re.fullmatch(r"where does the (\w+) (\w+) go", question):
        assert scene[match[1]]["kind"] == match[2], question
        return scene[match[1]]["motion"]
    if match := re.fullmatch(r"what color is the shape that (.+)", question):
        (color,) = [c for c, s in scene.items() if s["motion"] == phrases[match[1]]]
        return color
    match = re.fullmatch(r"what (.+)", question)
    (shape,) = [s for s in scene.values() if s["motion"] == phrases[match[1]]]
    return shape["kind"]


def test_annotation_files_have_the_keys_and_types_of_the_real_msvd_qa_files(written):
    _, _, splits, _ = written
    expected_keys = {"answer", "id", "question", "video_id"}
    if MSVD_QA.is_dir():
        real = json.loads((MSVD_QA / "val_qa.json").read_text())[0]
        assert set(real) == expected_keys
        expected_types = {key: type(value) for key, value in real.items()}
    else:
        expected_types = {"answer": str, "id": int, "question": str, "video_id": int}
    for records in splits.values():
        assert isinstance(records, list) and records
        for row in records:
            assert set(row) == expected_keys
            assert {key: type(value) for key, value in row.items()} == expected_types
            assert row["question"] == row["question"].lower() and not row["question"].endswith("?")
            assert row["question"].split()[0] in ("what", "how", "where")


def test_question_ids_are_unique_and_numbered_on_from_split_to_split(written):
    _, _, splits, _ = written
    ids = [row["id"] for split in ("train", "val", "test") for row in splits[split]]
    assert ids == list(range(len(ids)))


def test_video_ids_are_disjoint_between_splits_with_train_clips_first(written):
    _, summary, splits, _ = written
    videos = {split: sorted({row["video_id"] for row in records}) for split, records in splits.items()}
    assert videos["train"][0] == 1 and videos["train"][-1] < videos["val"][0] and videos["val"][-1] < videos["test"][0]
    assert videos["train"] + videos["val"] + videos["test"] == list(range(1, VIDEOS + 1))
    # MSVD-QA's proportions 1200 : 250 : 520 of 30 clips: val round(3.81) = 4, test round(7.92) = 8, train the rest
    assert [len(videos[s]) for s in ("train", "val", "test")] == [18, 4, 8]
    assert {s: summary["splits"][s]["videos"] for s in videos} == {"train": 18, "val": 4, "test": 8}
    assert {s: summary["splits"][s]["questions"] for s in splits} == {s: len(r) for s, r in splits.items()}


def test_mapping_names_one_mp4_per_video_id_in_msvd_format(written):
    out, _, _, _ = written
    lines = (out / "youtube_mapping.txt").read_text().splitlines()
    assert lines == [f"clip{n} vid{n}" for n in range(1, VIDEOS + 1)]
    assert sorted(p.name for p in (out / "videos").iterdir()) == sorted(f"clip{n}.mp4" for n in range(1, VIDEOS + 1))


def test_written_clip_decodes_to_all_frames_close_to_the_drawn_ones(written, drawn):
    out, _, _, _ = written
    for video_id in (1, 12, VIDEOS):
        frames = drawn[video_id][1]
        decoded = decode(out / "videos" / f"clip{video_id}.mp4")
        assert decoded.shape == (FRAMES, SIZE, SIZE, 3) == frames.shape
        # measured 1.0-1.6 of 255 with H.264 crf 4, yuv420p (the error is the halved chroma at shape edges)
        assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 4


def test_motion_read_from_decoded_clip_matches_the_motion_read_from_drawn_frames(written, drawn):
    out, _, _, _ = written
    for video_id in range(1, 7):
        decoded_masks = color_masks(decode(out / "videos" / f"clip{video_id}.mp4"), tolerance=60)
        for color, mask in drawn[video_id][2].items():
            for drawn_point, decoded_point in zip(centroids(mask), centroids(decoded_masks[color])):
                assert (drawn_point is None) == (decoded_point is None), (video_id, color)
                if drawn_point is not None:
                    assert np.hypot(*np.subtract(drawn_point, decoded_point)) < 1.5, (video_id, color)


def test_shape_that_moves_left_has_its_centroid_move_left_at_constant_height(drawn):
    left_movers = [(masks, shape) for spec, _, masks in drawn.values() for shape in spec.shapes if shape.motion == "left"]
    assert len(left_movers) >= 5
    for masks, shape in left_movers:
        points = centroids(masks[shape.color])
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        assert all(b <= a for a, b in zip(xs, xs[1:])) and xs[0] - xs[-1] > 0.3 * SIZE
        assert max(ys) - min(ys) < 1e-9


def test_shape_that_appears_is_absent_in_the_first_half_and_present_in_the_second(drawn):
    appearing = [(masks, shape) for spec, _, masks in drawn.values() for shape in spec.shapes if shape.motion == "appear"]
    assert len(appearing) >= 5
    for masks, shape in appearing:
        present = masks[shape.color].any(axis=(1, 2))
        assert present.tolist() == [False] * (FRAMES // 2) + [True] * (FRAMES - FRAMES // 2)


def test_every_answer_equals_the_answer_worked_out_from_the_drawn_pixels(written, drawn):
    _, _, splits, _ = written
    by_video = defaultdict(list)
    for records in splits.values():
        for row in records:
            by_video[row["video_id"]].append(row)
    asked = Counter()
    for video_id, rows in by_video.items():
        scene = scene_from_pixels(drawn[video_id][2], SIZE)
        for row in rows:
            assert row["answer"] == answer_from_pixels(row["question"], scene), (video_id, row, scene)
            asked[row["question"].split()[0]] += 1
        assert sum(row["question"] == "how many shapes move" for row in rows) == 1
    assert set(asked) == {"what", "how", "where"}


def test_each_question_template_has_near_uniform_answers_and_a_question_only_baseline_is_near_chance():
    """Over 600 clips (160 to 600 questions per template), every template's answers are its 3 or 4 classes and none
    is more frequent than chance (1/3 for kinds and counts, 1/4 for colours and directions) by more than 4 standard
    errors of a fair draw (at n = 240: 45% for 3 classes, 36% for 4; measured at most 36%, 2.9 standard errors).
    Predicting each question's most frequent answer over the first 400 clips scores under 36% on the other 200
    (chance, the share-weighted mean of 1/3 and 1/4, is about 29%; measured 28% for seeds 0, 1, 2)."""
    pairs = {video_id: questions_for(draw_video_spec(video_id, 0, FRAMES, SIZE)) for video_id in range(1, 601)}
    by_question = defaultdict(Counter)
    for video_id in range(1, 401):
        for question, answer in pairs[video_id]:
            by_question[question][answer] += 1
    by_template = defaultdict(Counter)
    for video_id, video_pairs in pairs.items():
        for question, answer in video_pairs:
            by_template[re.sub(r"the \w+ \w+ go", "the <color> <kind> go", question)][answer] += 1
    classes = {"what color": set(PALETTE), "where": {"left", "right", "up", "down"},
               "how many": {"one", "two", "three"}, "what": {"circle", "square", "triangle"}}
    assert len(by_template) == 14
    for template, answers in by_template.items():
        prefix = next(p for p in classes if template.startswith(p))
        assert set(answers) == classes[prefix], template
        chance, count = 1 / len(classes[prefix]), sum(answers.values())
        assert max(answers.values()) / count <= chance + 4 * (chance * (1 - chance) / count) ** 0.5, (template, answers)
    held_out = [(q, a) for video_id in range(401, 601) for q, a in pairs[video_id]]
    correct = sum(by_question[q].most_common(1)[0][0] == a for q, a in held_out)
    assert correct / len(held_out) < 0.36


def test_same_seed_writes_identical_files_and_clips_do_not_depend_on_the_set_size(tmp_path, written):
    out, _, _, _ = written
    make_synthetic_videoqa(tmp_path / "a", num_videos=6, seed=SEED, frames=FRAMES, size=SIZE)
    make_synthetic_videoqa(tmp_path / "b", num_videos=6, seed=SEED, frames=FRAMES, size=SIZE)
    for name in ("annotations/train_qa.json", "annotations/val_qa.json", "annotations/test_qa.json",
                 "youtube_mapping.txt", "scenes.json", "videos/clip4.mp4"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for video_id in range(1, 7):
        assert (tmp_path / "a" / f"videos/clip{video_id}.mp4").read_bytes() == \
            (out / f"videos/clip{video_id}.mp4").read_bytes()
    spec = draw_video_spec(3, SEED, FRAMES, SIZE)
    assert np.array_equal(render_video_frames(spec, FRAMES, SIZE), render_video_frames(spec, FRAMES, SIZE))
    assert draw_video_spec(3, SEED + 1, FRAMES, SIZE) != spec


def test_thirty_clips_write_in_a_few_seconds(written):
    _, _, _, seconds = written
    assert seconds < 10  # measured 0.3-0.8 s on a shared 2-core machine


@pytest.mark.parametrize("arguments, message", [
    ({"num_videos": 2}, "num_videos must be an integer of at least 3"),
    ({"size": 63}, "size must be an even integer of at least 48"),
    ({"size": 32}, "size must be an even integer of at least 48"),
    ({"frames": 4}, "frames must be an integer of at least 8"),
])
def test_bad_settings_are_refused_with_what_was_expected(tmp_path, arguments, message):
    with pytest.raises(VlkitError, match=message):
        make_synthetic_videoqa(tmp_path, **{"num_videos": 6, **arguments})
    assert not (tmp_path / "videos").exists()
