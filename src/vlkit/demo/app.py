"""The demo's Gradio page: one tab per task of the loaded runs (VQA, captioning, video QA), each with a run
picker, its inputs, bundled examples and its outputs, all requests through one bounded queue."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from vlkit.core.errors import VlkitError
from vlkit.demo.examples import write_examples
from vlkit.demo.handlers import (
    MAX_BEAM,
    MAX_TOP_K,
    DemoAnswer,
    answer_image_question,
    answer_video_question,
    caption_image,
)
from vlkit.demo.inputs import MEGABYTE, DemoLimits
from vlkit.demo.output_files import OutputFiles
from vlkit.demo.runs import DemoRun

logger = logging.getLogger("vlkit.demo")

TAB_TITLES = {"vqa": "Visual question answering", "caption": "Image captioning", "videoqa": "Video question answering"}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ServeOptions:
    """How the page is served: address, how many requests run the models at once (all tasks together) and how
    many may wait; requests past that are refused with "queue full" instead of piling up in memory."""

    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int = 1
    queue_size: int = 64

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise VlkitError(f"--port must be 0 (any free port) to 65535, got {self.port!r}")
        for name in ("concurrency", "queue_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise VlkitError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        try:
            socket.getaddrinfo(self.host, None)
        except (OSError, UnicodeError) as error:
            raise VlkitError(f"--host {self.host!r} is not an address this machine can listen on: use 127.0.0.1 "
                             "(this machine only) or 0.0.0.0 (every network interface)") from error


def build_page(runs: list[DemoRun], limits: DemoLimits, work_folder: Path, concurrency: int):
    """The gr.Blocks page of `runs` (at least one); its examples and output pictures are written under
    `work_folder`."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    by_task: dict[str, dict[str, DemoRun]] = {}
    for run in runs:
        by_task.setdefault(run.task, {})[run.label] = run
    # one limit shared by every tab; inputs come unprocessed, so an upload Gradio cannot decode reaches our checks
    event = {"concurrency_limit": concurrency, "concurrency_id": "models", "preprocess": False}
    outputs = OutputFiles(work_folder / "outputs")
    # Gradio's cache of uploads and outputs: files older than an hour are removed every 10 minutes
    with gr.Blocks(title="vlkit demo", analytics_enabled=False, delete_cache=(600, 3600)) as page:
        gr.Markdown("# vlkit demo\nTrained runs answering your inputs. Pick a run, upload or choose an example.")
        for task in ("vqa", "caption", "videoqa"):
            if task not in by_task:
                continue
            task_runs = by_task[task]
            with gr.Tab(TAB_TITLES[task], id=task):
                choice = gr.Dropdown(list(task_runs), value=next(iter(task_runs)), label="run",
                                     elem_id=f"{task}-run")
                examples = write_examples(task, work_folder / task)
                if task == "vqa":
                    _vqa_tab(gr, task_runs, choice, examples, limits, event, outputs)
                elif task == "caption":
                    _caption_tab(gr, task_runs, choice, examples, limits, event, outputs)
                else:
                    _videoqa_tab(gr, task_runs, choice, examples, limits, event, outputs)
    return page


def _vqa_tab(gr, runs: dict[str, DemoRun], choice, examples: list[list[str]], limits: DemoLimits, event: dict,
             outputs: OutputFiles) -> None:
    with gr.Row():
        with gr.Column():
            image = gr.Image(type="filepath", sources=["upload"], label="image", height=300, elem_id="vqa-image")
            question, top_k, button = _question_controls(gr, "vqa", "what color is the shape?")
        with gr.Column():
            message, answers = _answer_outputs(gr, "vqa")
            heatmap = gr.Image(label="attention over the image", interactive=False, elem_id="vqa-attention")
    if examples:
        gr.Examples(examples, [image, question], label="examples (easy-VQA test images)")

    def respond(label: str, image_path, text, k):
        result = answer_image_question(runs.get(label), _uploaded_path(image_path), text, k, limits)
        return _message(result), _label(result.answers), None if result.image is None else outputs.png(result.image)

    button.click(respond, [choice, image, question, top_k], [message, answers, heatmap], api_name="vqa", **event)
    question.submit(respond, [choice, image, question, top_k], [message, answers, heatmap], api_visibility="private",
                    **event)


def _caption_tab(gr, runs: dict[str, DemoRun], choice, examples: list[list[str]], limits: DemoLimits,
                 event: dict, outputs: OutputFiles) -> None:
    first = next(iter(runs.values()))
    with gr.Row():
        with gr.Column():
            image = gr.Image(type="filepath", sources=["upload"], label="image", height=300, elem_id="caption-image")
            beam = gr.Slider(1, MAX_BEAM, value=first.predictor.trained.config.sections["decoding"].beam_size, step=1,
                             label="beam size")
            button = gr.Button("Caption", variant="primary", elem_id="caption-submit")
        with gr.Column():
            message = gr.Markdown(elem_id="caption-message")
            caption = gr.Textbox(label="caption", interactive=False, elem_id="caption-text")
            words = gr.Gallery(label="attention per word", columns=4, elem_id="caption-words")
    if examples:
        gr.Examples(examples, [image], label="examples (synthetic shape scenes)")

    def respond(label: str, image_path, beam_size):
        result = caption_image(runs.get(label), _uploaded_path(image_path), beam_size, limits)
        return _message(result), result.caption, _gallery(result, outputs)

    button.click(respond, [choice, image, beam], [message, caption, words], api_name="caption", **event)


def _videoqa_tab(gr, runs: dict[str, DemoRun], choice, examples: list[list[str]], limits: DemoLimits,
                 event: dict, outputs: OutputFiles) -> None:
    with gr.Row():
        with gr.Column():
            video = gr.Video(sources=["upload"], label="video", elem_id="videoqa-video")
            question, top_k, button = _question_controls(gr, "videoqa", "what moves to the left")
        with gr.Column():
            message, answers = _answer_outputs(gr, "videoqa")
            clips = gr.Label(label="attention per clip", elem_id="videoqa-clip-attention")
            frames = gr.Gallery(label="clips (middle frame)", columns=4, elem_id="videoqa-clips")
    if examples:
        gr.Examples(examples, [video, question], label="examples (synthetic clips)")

    def respond(label: str, video_path, text, k):
        result = answer_video_question(runs.get(label), _uploaded_path(video_path), text, k, limits)
        return _message(result), _label(result.answers), _label(result.clip_attention), _gallery(result, outputs)

    shown = [message, answers, clips, frames]
    button.click(respond, [choice, video, question, top_k], shown, api_name="videoqa", **event)
    question.submit(respond, [choice, video, question, top_k], shown, api_visibility="private", **event)


def _question_controls(gr, task: str, placeholder: str) -> tuple:
    """The question box, the answers-shown slider and the Answer button of a question-answering tab."""
    question = gr.Textbox(label="question", placeholder=placeholder, elem_id=f"{task}-question")
    top_k = gr.Slider(1, MAX_TOP_K, value=5, step=1, label="answers shown")
    return question, top_k, gr.Button("Answer", variant="primary", elem_id=f"{task}-submit")


def _answer_outputs(gr, task: str) -> tuple:
    """The message line and the answer bars of a question-answering tab."""
    return gr.Markdown(elem_id=f"{task}-message"), gr.Label(label="answers", elem_id=f"{task}-answers")


def _uploaded_path(value: Any) -> Optional[str]:
    """The server-side path of an unprocessed image or video input ({"path": ...}, a video's {"video": {...}})."""
    if isinstance(value, dict):
        value = value.get("video", value)
        return value.get("path") if isinstance(value, dict) else None
    return None


def _gallery(result: DemoAnswer, outputs: OutputFiles) -> list[tuple[str, str]]:
    return [(outputs.png(picture), caption) for picture, caption in result.gallery]


def _message(result: DemoAnswer) -> str:
    return f"**{result.message}**" if result.message.startswith("Could not answer") else result.message


def _label(values: dict[str, float]) -> dict[str, float] | None:
    """gr.Label's value: {} would draw an empty box, None clears it."""
    return values or None


def serve(runs: list[DemoRun], limits: DemoLimits, options: ServeOptions, work_folder: Path):
    """Build the page and start serving it at options.host:port (port 0: the first free port from 7860) in the
    background; returns the running gr.Blocks (`local_url`, `close()`). Nothing is downloaded:
    no analytics, no share link, fonts and scripts from the local server."""
    page = build_page(runs, limits, work_folder, options.concurrency)
    page.queue(max_size=options.queue_size, default_concurrency_limit=options.concurrency)
    if options.host not in LOCAL_HOSTS:
        logger.warning("the demo listens on %s: anyone who can reach this machine on its port can use it",
                       options.host)
    try:
        page.launch(server_name=options.host, server_port=options.port or None, share=False, inbrowser=False,
                    prevent_thread_lock=True, show_error=False, quiet=True, ssr_mode=False,
                    max_file_size=int(limits.max_upload_mb * MEGABYTE), allowed_paths=[str(work_folder)])
    except OSError as error:  # Gradio: "Cannot find empty port in range: P-P. You can specify ..."
        reason = str(error).split(". ")[0]
        raise VlkitError(f"cannot serve the demo on {options.host}:{options.port} ({reason}): the port is taken or "
                         "the address is not this machine's; choose another --port, or --port 0 for a free one"
                         ) from error
    return page
