"""`vlkit vqa ...`: train, evaluate, predict, score, import and check for visual question answering."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from vlkit.cli.output import emit, progress_on_stderr
from vlkit.cli.training import add_train_and_evaluate
from vlkit.core.errors import VlkitError

if TYPE_CHECKING:
    from vlkit.vqa.task import VQATask

app = typer.Typer(help="Visual question answering.", no_args_is_help=True)


def load_task() -> "VQATask":
    """The VQA task (imported only when a command runs)."""
    from vlkit.vqa.task import VQATask

    return VQATask()


add_train_and_evaluate(
    app, load_task,
    train_help="Train a VQA model; with no arguments, the default easy-VQA recipe on the CPU.\n\n"
               "Example: vlkit vqa train --config configs/vqa/cnn_lstm_att_easyvqa.yaml trainer.max_epochs=5",
    evaluate_help="Answer a split with a trained run: predictions_<split>.json in the run, accuracy where answers "
                  "exist.\n\nExample: vlkit vqa evaluate runs/vqa/qguided_att_vqa2-20261122-101500 --split test-dev "
                  "--results-out R.json",
    split_help="easy-VQA: test | val | train; VQA: test-dev | test | val (default: the run's data.test_split)",
)


@app.command("predict")
def vqa_predict(
    run: str = typer.Argument(..., help="run directory (or run name under --runs-root)"),
    image: Path = typer.Option(..., "--image", help="image file"),
    question: str = typer.Option(..., "--question", help="question text"),
    top_k: int = typer.Option(5, "--top-k", help="how many answers to list"),
    attention: Optional[Path] = typer.Option(None, "--attention", help="write the attention map as PNG here"),
    runs_root: str = typer.Option("runs", "--runs-root"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Answer a question about an image with a trained run (CPU; the dataset is not needed).

    Example: vlkit vqa predict RUN --image shape.png --question "what color is the shape?" --attention att.png
    """
    from vlkit.core.runs import resolve_run
    from vlkit.vision.attention_figure import check_figure_path

    if attention is not None:
        check_figure_path(attention, inputs=[image])
    task = load_task()
    with progress_on_stderr():
        predictor = task.predictor_class.open(task, resolve_run(run, runs_root))
        result = predictor.answer(image, question, top_k)
        if attention is not None:
            predictor.save_attention(result, attention)
    if result.unknown_words:
        typer.echo(f"warning: words not in the training vocabulary (read as <unk>): {result.unknown_words}",
                   err=True)
    if result.dropped_words:
        typer.echo(f"warning: the model reads the first {predictor.max_question_len} words of a question; the last "
                   f"{result.dropped_words} were not read", err=True)
    payload = {"question": question, "answers": [{"answer": a, "probability": p} for a, p in result.answers],
               "unknown_words": result.unknown_words, "dropped_words": result.dropped_words,
               "attention": str(attention) if attention else None}
    lines = [f"{answer:<12} {probability:7.2%}" for answer, probability in result.answers]
    if attention:
        lines.append(f"attention map: {attention}")
    emit(payload, as_json, "\n".join(lines))


@app.command("score")
def vqa_score(
    questions: Path = typer.Option(..., "--questions", help="official *_questions.json"),
    annotations: Path = typer.Option(..., "--annotations", help="official *_annotations.json"),
    results: Path = typer.Option(..., "--results", help='results JSON: [{"question_id": int, "answer": str}]'),
    legacy: bool = typer.Option(False, "--legacy", help="the pre-2021 evaluator shipped by mcan-vqa/openvqa/LAVIS"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Official VQA accuracy (GT-Vision-Lab vqaEval.py, current HEAD; --legacy for the pre-2021 one).

    Example: vlkit vqa score --questions v2_OpenEnded_mscoco_val2014_questions.json
    --annotations v2_mscoco_val2014_annotations.json --results val_results.json --json
    """
    from vlkit.vqa.metrics.score_files import score_files

    with progress_on_stderr():
        report = score_files(questions, annotations, results, legacy)
    lines = [f"overall accuracy: {report['overall']:.2f}" + (" (legacy evaluator)" if legacy else ""),
             "per answer type:"]
    lines += [f"  {name:<10} {value:6.2f}" for name, value in sorted(report["perAnswerType"].items())]
    lines.append("per question type:")
    lines += [f"  {name:<32} {value:6.2f}" for name, value in sorted(report["perQuestionType"].items())]
    emit(report, as_json, "\n".join(lines))


@app.command("import")
def vqa_import(
    checkpoint: Path = typer.Argument(..., help="mcan-vqa: ckpt_<version>/epoch<N>.pkl; pytorch-vqa: logs/<name>.pth"),
    source: str = typer.Option(..., "--from", help="mcan-vqa | pytorch-vqa"),
    config: Path = typer.Option(..., "--config", help="the matching recipe, e.g. configs/vqa/mcan_small_vqa2.yaml"),
    answers: Optional[Path] = typer.Option(None, "--answers", help="mcan-vqa: its core/data/answer_dict.json"),
    out: Path = typer.Option(..., "--out", help="new run directory"),
    overrides: Optional[list[str]] = typer.Argument(None, help="key=value overrides, e.g. data.root=DIR"),
) -> None:
    """Import trained weights of a reference implementation as a vlkit run (then evaluate it).

    Example: vlkit vqa import ckpt_small/epoch13.pkl --from mcan-vqa --config configs/vqa/mcan_small_vqa2.yaml
    --answers answer_dict.json --out runs/vqa/mcan-small-imported data.root=data/vqa data.features=feats/butd/all
    """
    from vlkit.core.config import load_config
    from vlkit.vqa.checkpoint_import import import_mcan, import_pytorch_vqa

    resolved = load_config(load_task(), config, overrides or [])
    if source == "mcan-vqa":
        if answers is None:
            raise VlkitError("--from mcan-vqa needs --answers answer_dict.json (mcan-vqa's core/data/answer_dict.json)")
        run_dir = import_mcan(checkpoint, resolved, answers, out)
    elif source == "pytorch-vqa":
        run_dir = import_pytorch_vqa(checkpoint, resolved, out)
    else:
        raise VlkitError(f"--from {source!r} is not supported; supported: mcan-vqa, pytorch-vqa")
    typer.echo(f"imported {checkpoint} -> {run_dir}; next: vlkit vqa evaluate {run_dir} --split val")


@app.command("check")
def vqa_check(
    root: Path = typer.Option(..., "--root", help="folder holding the official VQA files (and MCAN's VG files)"),
    train_split: str = typer.Option("train", "--train", help="train | train+val | train+val+vg"),
    eval_split: Optional[str] = typer.Option("val", "--eval", help="val | test-dev | test (empty: none)"),
    results: Optional[Path] = typer.Option(None, "--results", help="a results file to check against --eval"),
    vocabulary: str = typer.Option("mcan", "--answers", help="answer vocabulary: mcan | pytorch-vqa"),
    features: Optional[Path] = typer.Option(None, "--features", help="feature store: report images without rows"),
    version: str = typer.Option("v2", "--version", help="v1 | v2"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Check VQA data before training: formats, pairing, vocabulary coverage, majority baseline, overlaps.

    Example: vlkit vqa check --root data/vqa --train train+val+vg --eval test-dev --results test-dev_results.json
    """
    from vlkit.features.store import FeatureStore
    from vlkit.vqa.data.answer_lists import ANSWER_LISTS
    from vlkit.vqa.data.checks import check_splits
    from vlkit.vqa.data.official_files import read_results
    from vlkit.vqa.data.splits import load_split

    if vocabulary not in ANSWER_LISTS:
        raise VlkitError(f"--answers must be one of {sorted(ANSWER_LISTS)}, got {vocabulary!r}")
    train = load_split(train_split, root, version)
    if train.annotations is None:
        raise VlkitError(f"--train {train_split!r} has no annotations: train on train, val or vg")
    evaluation = load_split(eval_split, root, version) if eval_split else None
    report = check_splits(train, evaluation, read_results(results) if results else None, vocabulary,
                          FeatureStore(features) if features else None)
    emit(report, as_json, _format_check(report))


def _format_check(report: dict) -> str:
    lines = []
    for key in ("train", "eval"):
        if key in report:
            part = report[key]
            lines.append(f"{key} ({part['split']}): {part['questions']} questions on {part['images']} images; "
                         f"question tokens mean {part['question_tokens_mean']}, max {part['question_tokens_max']}, "
                         f"{part['questions_truncated_percent']}% longer than 14")
    vocab = report["answer_vocabulary"]
    lines.append(f"answer vocabulary ({vocab['kind']}): {vocab['size']} answers")
    for key in ("train_coverage", "eval_coverage"):
        if key in vocab:
            c = vocab[key]
            lines.append(f"  {key.split('_')[0]} coverage: majority answer in vocabulary {c['majority_in_vocab']}%, "
                         f"answerable {c['answerable']}%, best possible accuracy {c['best_possible_accuracy']}%")
    if "majority_baseline" in report:
        baseline = report["majority_baseline"]
        per_type = ", ".join(f"{t} '{baseline['answer_per_type'].get(t, '')}' {v:.2f}"
                             for t, v in baseline["perAnswerType"].items())
        lines.append(f"majority-answer baseline on eval: {baseline['overall']:.2f} ({per_type})")
    if "results" in report:
        lines.append(f"results: {report['results']['answers']} answers, exactly the eval questions")
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)
