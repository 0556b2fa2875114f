"""`vlkit videoqa ...`: prepare, train, evaluate, predict, score and import for video question answering."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from vlkit.cli.output import emit, progress_on_stderr
from vlkit.cli.training import add_train_and_evaluate
from vlkit.core.errors import VlkitError

if TYPE_CHECKING:
    from vlkit.videoqa.task import VideoQATask

app = typer.Typer(help="Video question answering (MSVD-QA, MSRVTT-QA).", no_args_is_help=True)


def load_task() -> "VideoQATask":
    """The video QA task (imported only when a command runs)."""
    from vlkit.videoqa.task import VideoQATask

    return VideoQATask()


add_train_and_evaluate(
    app, load_task,
    train_help="Train a video QA model; with no arguments, dualvgr on the synthetic video set on the CPU.\n\n"
               "Example: vlkit videoqa train --config configs/videoqa/dualvgr_msvd.yaml data.annotations=msvd-qa "
               "data.appearance=feats/msvd-appearance data.motion=feats/msvd-motion model.glove=glove.840B.300d.txt",
    evaluate_help="Answer a split with a trained run: predictions_<split>.json in the run ([{id, video_id, question, "
                  "answer}]), accuracy overall and per question type.\n\nExample: vlkit videoqa evaluate "
                  "runs/videoqa/dualvgr_msvd-20261129-101500 --split test",
    split_help="test | val | train (default: test)",
)


def _per_type_lines(report: dict) -> str:
    lines = [f"accuracy: {report['accuracy']:.2f} over {report['num_questions']} questions", "per question type:"]
    lines += [f"  {name:<8} {value:6.2f}  ({report['per_type_count'][name]} questions)"
              for name, value in report["per_type"].items()]
    return "\n".join(lines)


@app.command("score")
def videoqa_score(
    annotations: Path = typer.Option(..., "--annotations", help="the split's annotations, e.g. test_qa.json"),
    predictions: Path = typer.Option(..., "--predictions", help='predictions JSON: [{"id": int, "answer": str}]'),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Accuracy overall and per question type (first word), in percent: an answer is right when its text equals
    the annotated one.

    Example: vlkit videoqa score --annotations msvd-qa/test_qa.json --predictions predictions_test.json --json
    """
    from vlkit.videoqa.metrics import score_prediction_files

    report = score_prediction_files(annotations, predictions)
    emit(report, as_json, _per_type_lines(report))


@app.command("predict")
def videoqa_predict(
    run: str = typer.Argument(..., help="run directory (or run name under --runs-root)"),
    video: Path = typer.Option(..., "--video", help="video file"),
    question: str = typer.Option(..., "--question", "-q", help="question about the video"),
    top_k: int = typer.Option(5, "--top-k", help="answers to list"),
    runs_root: str = typer.Option("runs", "--runs-root"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Answer a question about a video with a trained run that reads frames (CPU; the dataset is not needed).

    Example: vlkit videoqa predict RUN --video clip.mp4 -q "what moves to the left"
    """
    from vlkit.core.runs import resolve_run

    task = load_task()
    with progress_on_stderr():
        predictor = task.predictor_class.open(task, resolve_run(run, runs_root))
        result = predictor.answer(video, question, top_k)
    payload = {"question": question, "answers": [{"answer": a, "probability": p} for a, p in result.answers],
               "unknown_words": result.unknown_words, "clip_attention": result.clip_attention}
    lines = [f"{answer:<20} {probability:.3f}" for answer, probability in result.answers]
    if result.unknown_words:
        lines.append(f"(words the model does not know, read as <unk>: {', '.join(result.unknown_words)})")
    if result.clip_attention is not None:
        lines.append("attention over clips: " + " ".join(f"{weight:.2f}" for weight in result.clip_attention))
    emit(payload, as_json, "\n".join(lines))


@app.command("prepare")
def videoqa_prepare(
    videos: Path = typer.Option(..., "--videos", help="folder of videos (MSVD: YouTubeClips; MSRVTT: video<N>.mp4)"),
    annotations: Path = typer.Option(..., "--annotations", help="folder of {train,val,test}_qa.json"),
    out: Path = typer.Option(..., "--out", help="folder for the stores (rerun to resume)"),
    mapping: Optional[Path] = typer.Option(None, "--mapping", help="MSVD's youtube_mapping.txt (clip name -> vid<N>)"),
    frames: bool = typer.Option(False, "--frames", help="decoded frames for models trained end to end, not features"),
    clips: int = typer.Option(8, "--clips", help="clips per video (DualVGR: 8 MSVD-QA, 16 MSRVTT-QA)"),
    frames_per_clip: int = typer.Option(16, "--frames-per-clip", help="consecutive frames per clip"),
    frame_stride: int = typer.Option(1, "--frame-stride", help="--frames: every s-th frame in a clip (1: HCRN's)"),
    size: Optional[int] = typer.Option(None, "--size", help="frame size (features: 224 appearance, 112 motion; "
                                                            "--frames: 112)"),
    appearance_model: str = typer.Option("resnet101", "--appearance-model", help="resnet18|50|101|152"),
    appearance_weights: Optional[Path] = typer.Option(None, "--appearance-weights",
                                                      help="torchvision ResNet state_dict (default: torch hub cache)"),
    motion_model: str = typer.Option("resnext101", "--motion-model", help="resnext101 | r3d_18 | r2plus1d_18"),
    motion_weights: Optional[Path] = typer.Option(None, "--motion-weights",
                                                  help="resnext-101-kinetics.pth, or torchvision's r3d_18 weights"),
    random_weights: bool = typer.Option(False, "--random-weights", help="untrained networks (recorded; tests only)"),
    batch_size: int = typer.Option(2, "--batch-size", help="videos per forward pass"),
    workers: Optional[int] = typer.Option(None, "--workers", help="decoding processes (default: every core)"),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda | cuda:1"),
    half: Optional[str] = typer.Option(None, "--half", help="bf16 | fp16 autocast on a GPU"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="finish despite missing or corrupt videos"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Decode the annotated videos into clip features (ResNet per frame + 3D CNN per clip) or frames; resumes.

    Example: vlkit videoqa prepare --videos MSVD/YouTubeClips --mapping youtube_mapping.txt --annotations msvd-qa
    --out feats/msvd --appearance-weights resnet101-63fe2227.pth --motion-weights resnext-101-kinetics.pth
    --device cuda
    """
    import dataclasses

    from vlkit.videoqa.data.prepare import FeatureSettings, prepare_videoqa

    settings = FeatureSettings(appearance_model, appearance_weights, motion_model, motion_weights, random_weights,
                               batch_size, device, half)
    with progress_on_stderr():
        result = prepare_videoqa(videos, mapping, annotations, out, frames, clips, frames_per_clip, size, settings,
                                 workers, skip_bad, frame_stride)
    payload = {**dataclasses.asdict(result), "out": str(result.out)}
    stores = " ".join(f"data.{name}={path}" for name, path in result.stores.items())
    dataset = "video_frames" if frames else "clip_features"
    emit(payload, as_json, f"{result.videos} annotated videos ({len(result.videos_missing)} missing, "
                            f"{len(result.videos_failed)} unreadable) -> {out}"
                            + ("" if result.complete else " (incomplete: rerun to finish)")
                            + f"\nnext: vlkit videoqa train data.dataset={dataset} data.annotations={annotations} "
                              f"{stores} ...")


@app.command("import")
def videoqa_import(
    checkpoint: Path = typer.Argument(..., help="DualVGR-VideoQA's results/<exp>/ckpt/DualVGR1<time>_model.pt"),
    source: str = typer.Option(..., "--from", help="dualvgr (NJUPT-MCC/DualVGR-VideoQA)"),
    vocab: Path = typer.Option(..., "--vocab", help="the <dataset>_vocab.json its preprocessing wrote"),
    out: Path = typer.Option(..., "--out", help="new run directory"),
    overrides: Optional[list[str]] = typer.Argument(None, help="key=value settings, e.g. data.annotations=DIR"),
) -> None:
    """Import a DualVGR checkpoint as a vlkit run (read with torch.load(weights_only=True): no code runs).

    Example: vlkit videoqa import results/expMSVD-QA/ckpt/DualVGR1_model.pt --from dualvgr
    --vocab data/msvd-qa/msvd-qa_vocab.json --out runs/videoqa/dualvgr_msvd_reference
    """
    from vlkit.videoqa.dualvgr_run import import_dualvgr_run

    if source != "dualvgr":
        raise VlkitError(f"--from {source!r} is not supported; supported: dualvgr")
    with progress_on_stderr():
        run_dir = import_dualvgr_run(checkpoint, vocab, out, overrides or [])
    typer.echo(f"imported {checkpoint} -> {run_dir}; next: vlkit videoqa evaluate {run_dir} --split test "
               "data.annotations=DIR data.appearance=STORE data.motion=STORE")
