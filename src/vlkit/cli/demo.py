"""`vlkit demo RUN [RUN ...]`: serve trained runs of any task in a local web page (Gradio)."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import typer

from vlkit.core.errors import VlkitError

logger = logging.getLogger("vlkit")


def demo_command(
    runs: list[str] = typer.Argument(..., help="run directories (or run names under --root), of any tasks"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (0.0.0.0 opens it to the network)"),
    port: int = typer.Option(7860, "--port", help="port to listen on (0: the first free one from 7860)"),
    root: str = typer.Option("runs", "--root", help="runs root, where run names are looked up"),
    checkpoint: str = typer.Option("best", "--checkpoint", help="checkpoint of each run: best or last"),
    device: str = typer.Option("auto", "--device", help="auto (the GPU when there is one), cpu or cuda"),
    concurrency: int = typer.Option(1, "--concurrency", help="requests the models answer at once, all tabs together"),
    queue_size: int = typer.Option(64, "--queue-size", help="requests that may wait; more are refused (queue full)"),
    max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", help="largest upload accepted"),
    max_image_pixels: int = typer.Option(40_000_000, "--max-image-pixels",
                                         help="largest image (width x height) accepted; smaller ones are downscaled "
                                              "to the model's input"),
    max_question_words: int = typer.Option(60, "--max-question-words", help="longest question accepted"),
    max_video_seconds: float = typer.Option(120.0, "--max-video-seconds", help="longest video accepted"),
) -> None:
    """Serve trained runs in a web page: VQA (image + question: answers and attention), captioning (image: caption
    and attention per word), video QA (video + question: answers and attention per clip).

    Each run is loaded once, on the GPU when there is one. Examples come from the embedded datasets; nothing is
    downloaded. The page listens on localhost unless --host says otherwise. Ctrl-C stops it.

    Example: vlkit demo cnn_lstm_att_easyvqa-20260101-120000 show_attend_tell_synthetic-20260102-090000
    """
    from vlkit.demo.app import ServeOptions, serve
    from vlkit.demo.inputs import DemoLimits
    from vlkit.demo.runs import open_demo_runs

    if checkpoint not in ("best", "last"):
        raise VlkitError(f"--checkpoint must be best or last, got {checkpoint!r}")
    limits = DemoLimits(max_upload_mb, max_image_pixels, max_question_words, max_video_seconds)
    options = ServeOptions(host, port, concurrency, queue_size)
    try:
        import gradio  # noqa: F401
    except ImportError as error:
        raise VlkitError("the demo needs Gradio: pip install 'vlkit[demo]' (or pip install gradio)") from error
    loaded = open_demo_runs(runs, root, checkpoint, device)
    for run in loaded:
        logger.info("loaded %s run %s on %s", run.task, run.label, run.predictor.device)
    with tempfile.TemporaryDirectory(prefix="vlkit-demo-") as work_folder:
        page = serve(loaded, limits, options, Path(work_folder))
        logger.info("serving on %s (Ctrl-C stops it)", page.local_url.rstrip("/"))
        try:
            while True:  # until Ctrl-C or SIGTERM, which main() reports as interrupted
                time.sleep(1)
        finally:
            page.close()
