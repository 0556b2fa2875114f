"""A procedural video-QA set in the MSVD-QA layout: short clips of coloured shapes that move, bounce or appear.

Each clip (white background, `size` x `size` pixels, `frames` frames at `FPS` frames per second) holds
1 to 3 filled shapes of distinct kinds (circle, square, triangle) and distinct colours (red, green,
blue, yellow; the colours and drawing of `synth.shapes`). Each shape has one motion of its own:
moves left, right, up or down (a straight line at constant speed over the whole clip), bounces
(up and down twice on one spot), appears (visible only from frame `frames // 2` on) or stays still.
No two shapes overlap in any frame. Every question needs the clip over time to be answered:
    what moves to the left / what bounces / what appears          -> the kind ("circle")      (type what)
    what color is the shape that moves up / ... that appears       -> the colour ("red")       (type what)
    how many shapes move                                           -> "one", "two" or "three"  (type how)
    where does the red circle go                                   -> "left"/"right"/"up"/"down" (type where)
A shape moves when it translates or bounces ("appears" and "stays still" do not). Kinds, colours
and directions are drawn independently of each other and the number of moving shapes is uniform
over one to three, so each question template's answers are (near) uniform over its 3 or 4 classes
and a model that reads only the question is at chance.

Written as (MSVD-QA's layout; video ids from 1, train clips first, then val, then test):
    out/videos/clip<N>.mp4                  H.264 (yuv420p) in MP4
    out/youtube_mapping.txt                 one line `clip<N> vid<N>` per clip (MSVD's mapping format)
    out/annotations/{train,val,test}_qa.json  [{"answer": "circle", "id": 0, "question": "what bounces",
                                               "video_id": 1}, ...]  (ids unique over the three splits)
    out/scenes.json                         every clip's shapes and motions (an extra file for checking)
Every clip is drawn from its own generator seeded by (seed, video id), so a clip does not depend on
how many others are made or in what order.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from vlkit.core.errors import VlkitError
from vlkit.synth.shapes import fill_shape

KINDS = ("circle", "square", "triangle")
VIDEO_COLORS = ("red", "green", "blue", "yellow")
DIRECTIONS = ("left", "right", "up", "down")
MOVING_MOTIONS = (*DIRECTIONS, "bounce")  # the motions that count in "how many shapes move"
STILL_MOTIONS = ("appear", "still")
MOTION_PHRASES = {"left": "moves to the left", "right": "moves to the right", "up": "moves up", "down": "moves down",
                  "bounce": "bounces", "appear": "appears"}
NUMBER_WORDS = ("zero", "one", "two", "three")
FPS = 8
CODEC = "libx264"
SPLITS = ("train", "val", "test")
_MSVD_SPLIT_VIDEOS = (1200, 250, 520)  # MSVD-QA's clips per split; the synthetic set keeps their proportions
_BACKGROUND = (255, 255, 255)
_GAP = 2  # pixels kept free between two shapes' boxes in every frame
_PLACEMENT_TRIES = 1000
_DRAWN_AS = {"circle": "circle", "square": "rectangle", "triangle": "triangle"}  # names in `synth.shapes`


@dataclass(frozen=True)
class ShapeTrack:
    """One shape of a clip and its motion.

    `start` is the centre (x, y) in pixels at the first frame; `travel` is the distance covered by a
    translation (left/right/up/down) or the height of a bounce, 0 for "appear" and "still".
    """

    kind: str
    color: str
    motion: str
    extent: int  # side of the square box the shape fills, pixels
    start: tuple[float, float]
    travel: float

    def centre_at(self, t: float) -> tuple[float, float]:
        """The centre (x, y) at clip time `t` in [0, 1] (first to last frame)."""
        x, y = self.start
        offsets = {"left": (-t, 0.0), "right": (t, 0.0), "up": (0.0, -t), "down": (0.0, t),
                   "bounce": (0.0, -abs(math.sin(2 * math.pi * t)))}
        dx, dy = offsets.get(self.motion, (0.0, 0.0))
        return x + self.travel * dx, y + self.travel * dy

    def visible_in(self, frame: int, frames: int) -> bool:
        """Whether the shape is drawn in frame `frame` of `frames` ("appear": only from frames // 2 on)."""
        return self.motion != "appear" or frame >= frames // 2

    def box_in(self, frame: int, frames: int) -> tuple[int, int, int, int]:
        """The box (left, top, right, bottom; inclusive pixels) the shape fills in frame `frame` of `frames`."""
        x, y = self.centre_at(frame / (frames - 1))
        left, top = math.floor(x - self.extent / 2 + 0.5), math.floor(y - self.extent / 2 + 0.5)
        return left, top, left + self.extent - 1, top + self.extent - 1

    @property
    def moves(self) -> bool:
        """Whether the shape counts in "how many shapes move" (translates or bounces)."""
        return self.motion in MOVING_MOTIONS


@dataclass(frozen=True)
class VideoSpec:
    """Everything a clip shows: its MSVD-style video id and its shapes (1 to 3, distinct kinds and colours)."""

    video_id: int
    shapes: tuple[ShapeTrack, ...]

    @property
    def clip_name(self) -> str:
        return f"clip{self.video_id}"


def draw_video_spec(video_id: int, seed: int = 0, frames: int = 32, size: int = 64) -> VideoSpec:
    """The clip of `video_id` for a set drawn with `seed`: how many shapes move (uniform over 1-3), then their
    motions, kinds, colours and places (resampled until no two shapes come closer than 2 pixels in any frame)."""
    _check_clip_size(frames, size)
    rng = np.random.default_rng([seed, video_id])
    moving = int(rng.integers(1, 4))
    still = int(rng.integers(0, min(len(STILL_MOTIONS), 3 - moving) + 1))
    motions = [str(m) for m in rng.choice(MOVING_MOTIONS, size=moving, replace=False)]
    motions += [str(m) for m in rng.choice(STILL_MOTIONS, size=still, replace=False)]
    kinds = [str(k) for k in rng.choice(KINDS, size=len(motions), replace=False)]
    colors = [str(c) for c in rng.choice(VIDEO_COLORS, size=len(motions), replace=False)]
    for _ in range(_PLACEMENT_TRIES):
        shapes = tuple(_place(kind, color, motion, size, rng) for kind, color, motion in zip(kinds, colors, motions))
        if not _any_overlap(shapes, frames):
            return VideoSpec(video_id, shapes)
    raise VlkitError(f"could not place {len(motions)} shapes without overlap in {_PLACEMENT_TRIES} tries in a "
                     f"{size}x{size} clip of {frames} frames; use a larger size")


def _place(kind: str, color: str, motion: str, size: int, rng: np.random.Generator) -> ShapeTrack:
    """A random place for one shape such that its box stays inside the frame for its whole motion."""
    extent = int(rng.integers(size // 6, size // 4 + 1))
    low, high = 1 + extent / 2, size - 2 - extent / 2  # where the centre may be
    if motion in DIRECTIONS:
        travel = rng.uniform(0.35, 0.5) * size
    elif motion == "bounce":
        travel = rng.uniform(0.25, 0.4) * size
    else:
        travel = 0.0
    x_low, x_high = low + travel * (motion == "left"), high - travel * (motion == "right")
    y_low, y_high = low + travel * (motion in ("up", "bounce")), high - travel * (motion == "down")
    start = (float(rng.uniform(x_low, x_high)), float(rng.uniform(y_low, y_high)))
    return ShapeTrack(kind, color, motion, extent, start, float(travel))


def _any_overlap(shapes: tuple[ShapeTrack, ...], frames: int) -> bool:
    for frame in range(frames):
        boxes = [s.box_in(frame, frames) for s in shapes if s.visible_in(frame, frames)]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                if a[0] <= b[2] + _GAP and b[0] <= a[2] + _GAP and a[1] <= b[3] + _GAP and b[1] <= a[3] + _GAP:
                    return True
    return False


def _check_clip_size(frames: int, size: int) -> None:
    if not isinstance(frames, int) or frames < 8:
        raise VlkitError(f"frames must be an integer of at least 8 (motions need time to show), got {frames!r}")
    if not isinstance(size, int) or size < 48 or size % 2:
        raise VlkitError(f"size must be an even integer of at least 48 pixels (H.264 yuv420p needs even sides), "
                         f"got {size!r}")


def render_video_frames(spec: VideoSpec, frames: int, size: int) -> np.ndarray:
    """The clip's frames exactly as drawn, before encoding: uint8 (T, H, W, 3) RGB with T = frames, H = W = size."""
    clip = np.empty((frames, size, size, 3), dtype=np.uint8)
    for frame in range(frames):
        image = Image.new("RGB", (size, size), _BACKGROUND)
        draw = ImageDraw.Draw(image)
        for shape in spec.shapes:
            if shape.visible_in(frame, frames):
                fill_shape(draw, _DRAWN_AS[shape.kind], shape.box_in(frame, frames), shape.color)
        clip[frame] = np.asarray(image)
    return clip


def questions_for(spec: VideoSpec) -> list[tuple[str, str]]:
    """The (question, answer) pairs asked about a clip: kind and colour of the shape with each motion (but
    "still"), the direction of each translating shape, and how many shapes move."""
    pairs = []
    for shape in spec.shapes:
        phrase = MOTION_PHRASES.get(shape.motion)
        if phrase is None:
            continue
        pairs += [(f"what {phrase}", shape.kind), (f"what color is the shape that {phrase}", shape.color)]
        if shape.motion in DIRECTIONS:
            pairs.append((f"where does the {shape.color} {shape.kind} go", shape.motion))
    pairs.append(("how many shapes move", NUMBER_WORDS[sum(shape.moves for shape in spec.shapes)]))
    return pairs


def write_video(path: Path, clip: np.ndarray, fps: int = FPS) -> None:
    """Encode uint8 (T, H, W, 3) RGB frames as H.264 (yuv420p, near-lossless, one thread) into `path`."""
    if CODEC not in av.codecs_available:
        raise VlkitError(f"this PyAV build has no {CODEC} encoder; install the PyAV wheel from PyPI (pip install av)")
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(CODEC, rate=fps, options={"crf": "4", "preset": "veryfast", "threads": "1"})
        stream.width, stream.height = clip.shape[2], clip.shape[1]
        stream.pix_fmt = "yuv420p"
        for array in clip:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode())


def split_sizes(num_videos: int) -> dict[str, int]:
    """Clips per split in MSVD-QA's proportions (1200 : 250 : 520), at least one each."""
    if not isinstance(num_videos, int) or num_videos < 3:
        raise VlkitError(f"num_videos must be an integer of at least 3 (one clip per split), got {num_videos!r}")
    total = sum(_MSVD_SPLIT_VIDEOS)
    val = max(1, round(num_videos * _MSVD_SPLIT_VIDEOS[1] / total))
    test = max(1, round(num_videos * _MSVD_SPLIT_VIDEOS[2] / total))
    return {"train": num_videos - val - test, "val": val, "test": test}


def make_synthetic_videoqa(out: str | Path, num_videos: int = 600, seed: int = 0, frames: int = 32,
                           size: int = 64) -> dict:
    """Write the set (layout in the module docstring) into `out` and return a summary: the folder, the clip
    settings, and per split the clips, the first and last video id and the questions."""
    _check_clip_size(frames, size)
    sizes = split_sizes(num_videos)
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    specs = [draw_video_spec(video_id, seed, frames, size) for video_id in range(1, num_videos + 1)]
    for spec in tqdm(specs, desc="synthetic clips", unit="clip", leave=False):
        write_video(out / "videos" / f"{spec.clip_name}.mp4", render_video_frames(spec, frames, size))
    (out / "youtube_mapping.txt").write_text("".join(f"{s.clip_name} vid{s.video_id}\n" for s in specs))
    (out / "scenes.json").write_text(json.dumps(
        {"frames": frames, "size": size, "fps": FPS, "seed": seed,
         "videos": [{"video_id": s.video_id, "clip": s.clip_name, "shapes": [asdict(t) for t in s.shapes]}
                    for s in specs]}))
    summary: dict = {"root": str(out), "videos": num_videos, "frames": frames, "size": size, "fps": FPS,
                     "seed": seed, "splits": {}}
    next_id, first = 0, 0
    for split in SPLITS:
        chosen = specs[first:first + sizes[split]]
        first += sizes[split]
        records = []
        for spec in chosen:
            for question, answer in questions_for(spec):
                records.append({"answer": answer, "id": next_id, "question": question, "video_id": spec.video_id})
                next_id += 1
        (out / "annotations" / f"{split}_qa.json").write_text(json.dumps(records))
        summary["splits"][split] = {"videos": len(chosen), "first_video_id": chosen[0].video_id,
                                    "last_video_id": chosen[-1].video_id, "questions": len(records)}
    return summary
