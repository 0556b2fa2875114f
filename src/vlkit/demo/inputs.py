"""Checks on what a demo visitor sends (uploads and questions), before any model work; each failure is a
`VlkitError` whose message is shown in the page as it is, so it names the upload, never a server path."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from PIL import Image, UnidentifiedImageError

from vlkit.core.errors import VlkitError


MEGABYTE = 2**20  # bytes in the MB of the limits, as Gradio counts them


@dataclass(frozen=True)
class DemoLimits:
    """What one request may send: upload size in MB, image size in pixels (width x height; larger images are
    refused, smaller ones are downscaled to the model's input by its Predictor), question length in words,
    video length in seconds."""

    max_upload_mb: float = 20.0
    max_image_pixels: int = 40_000_000
    max_question_words: int = 60
    max_video_seconds: float = 120.0

    def __post_init__(self) -> None:
        for name in ("max_upload_mb", "max_image_pixels", "max_question_words", "max_video_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise VlkitError(f"{name.replace('_', '-')} must be a positive number, got {value!r}")


def _check_upload(path: str | Path | None, what: str, limits: DemoLimits) -> Path:
    """The uploaded file's path, after checking that there is one and that it is within the size limit."""
    if path is None or str(path) == "":
        raise VlkitError(f"upload {what} first (or pick an example)")
    path = Path(path)
    if not path.is_file():
        raise VlkitError(f"the uploaded {what} is gone from the server; upload it again")
    megabytes = path.stat().st_size / MEGABYTE
    if megabytes > limits.max_upload_mb:
        raise VlkitError(f"the uploaded {what} is {megabytes:.1f} MB; the limit is {limits.max_upload_mb:g} MB")
    if path.stat().st_size == 0:
        raise VlkitError(f"the uploaded {what} is an empty file")
    return path


def check_image(path: str | Path | None, limits: DemoLimits) -> Path:
    """An uploaded image that decodes completely and has at most `limits.max_image_pixels` pixels."""
    path = _check_upload(path, "an image", limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > limits.max_image_pixels:
                    raise VlkitError(f"the image is {width} x {height} = {width * height / 1e6:.1f} megapixels; the "
                                     f"limit is {limits.max_image_pixels / 1e6:g} megapixels: downscale it first")
                image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise VlkitError("the upload is not an image this demo can read (PNG, JPEG, GIF, BMP, WebP, TIFF)"
                         if isinstance(error, UnidentifiedImageError) else
                         "the image is too large to decode safely: downscale it first") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise VlkitError(f"the image is damaged and cannot be decoded ({_without_paths(error)})") from error
    return path


def check_video(path: str | Path | None, limits: DemoLimits) -> Path:
    """An uploaded video that opens, has a video stream with at least one frame, and lasts at most
    `limits.max_video_seconds` where the container says how long it is."""
    path = _check_upload(path, "a video", limits)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VlkitError("the upload has no video stream (is it an audio file?)")
            seconds = container.duration / av.time_base if container.duration else None
            if seconds is not None and seconds > limits.max_video_seconds:
                raise VlkitError(f"the video lasts {seconds:.0f} s; the limit is {limits.max_video_seconds:g} s: "
                                 "cut a shorter piece")
            if next(container.decode(video=0), None) is None:
                raise VlkitError("the video has no frames")
    except av.FFmpegError as error:
        raise VlkitError("the upload is not a video this demo can decode (MP4, WebM, AVI, MKV, ...): "
                         f"{_without_paths(error)}") from error
    return path


def check_question(question: str | None, limits: DemoLimits) -> str:
    """The question without surrounding blanks; empty or longer than `limits.max_question_words` is refused."""
    text = (question or "").strip()
    if not text:
        raise VlkitError("type a question first")
    words = len(text.split())
    if words > limits.max_question_words:
        raise VlkitError(f"the question has {words} words; the limit is {limits.max_question_words}: ask it shorter")
    return text


def _without_paths(error: Exception) -> str:
    """The error's message with any file name taken out (uploads live under server-side temporary paths)."""
    message = getattr(error, "strerror", None) or str(error)
    return message.split(": '/")[0].split(" '/")[0]


def check_count(value: Any, what: str, low: int, high: int) -> int:
    """A whole number from `low` to `high` from a page control (a slider sends a number, an API caller anything)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number.is_integer() or not low <= number <= high:
        raise VlkitError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return int(number)
