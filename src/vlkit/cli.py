"""`vlkit <task> <verb>`: the command-line interface.

User errors (bad config, missing file, malformed data) print one clear line and exit with status 2.
`--json` prints exactly one JSON object on stdout; progress and logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from vlkit.errors import VlkitError

app = typer.Typer(help="vlkit: vision-language research toolkit (VQA, captioning, video QA).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
vqa_app = typer.Typer(help="Visual question answering.", no_args_is_help=True)
runs_app = typer.Typer(help="Run directories.", no_args_is_help=True)
features_app = typer.Typer(help="Visual features: extract once, read rows from a memory-mapped store.",
                           no_args_is_help=True)
app.add_typer(vqa_app, name="vqa")
app.add_typer(features_app, name="features")
app.add_typer(runs_app, name="runs")


def _emit(result: dict, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(result) if as_json else text)


def _format_report(report: dict) -> str:
    if "overall" not in report:
        return f"{report['split']}: {report['num_questions']} answers written to {report['predictions']} (no ground truth)"
    per_type = ", ".join(f"{name} {value:.2f}" for name, value in report["perAnswerType"].items())
    return f"{report['split']} accuracy {report['overall']:.2f}% over {report['num_questions']} questions ({per_type})"


@vqa_app.command("train")
def vqa_train(
    overrides: Optional[list[str]] = typer.Argument(None, help="key=value config overrides", show_default=False),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML recipe (default: easy-VQA)"),
    resume: Optional[str] = typer.Option(None, "--resume", help="continue this run from its last.ckpt"),
    runs_root: str = typer.Option("runs", "--runs-root", help="where --resume looks for a run name"),
    as_json: bool = typer.Option(False, "--json", help="print the run summary as one JSON object"),
) -> None:
    """Train a VQA model; with no arguments, the default easy-VQA recipe on the CPU.

    Example: vlkit vqa train --config configs/vqa/cnn_lstm_att_easyvqa.yaml trainer.max_epochs=5
    """
    from vlkit.config import load_config
    from vlkit.runs import resolve_run
    from vlkit.vqa.train import train

    resume_dir = resolve_run(resume, runs_root) if resume else None
    if resume_dir is not None and config is not None:
        raise VlkitError("--resume uses the run's own config.yaml; pass changes as key=value overrides instead")
    resolved = load_config(resume_dir / "config.yaml" if resume_dir else config, overrides or [])
    summary = train(resolved, resume_dir)
    if summary is not None:
        _emit(summary, as_json, f"run: {summary['run_dir']}\nbest val accuracy {summary['best_val_metric']:.2f}% "
                                f"(epoch {summary['best_epoch']})\n{_format_report(summary['test'])}")


@vqa_app.command("evaluate")
def vqa_evaluate(
    run: str = typer.Argument(..., help="run directory (or run name under --runs-root)"),
    split: Optional[str] = typer.Option(None, "--split",
                                        help="easy-VQA: test | val | train; VQA: test-dev | test | val "
                                             "(default: the run's data.test_split)"),
    checkpoint: str = typer.Option("best", "--checkpoint", help="best | last"),
    overrides: Optional[list[str]] = typer.Argument(None, help="data.* overrides, e.g. data.root=DIR"),
    results_out: Optional[Path] = typer.Option(None, "--results-out",
                                               help="also write the predictions here (VQA: EvalAI results)"),
    runs_root: str = typer.Option("runs", "--runs-root"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Answer a split with a trained run: predictions_<split>.json in the run, accuracy where answers exist.

    Example: vlkit vqa evaluate runs/vqa/qguided_att_vqa2-20261122-101500 --split test-dev --results-out R.json
    """
    from vlkit.config import load_config
    from vlkit.runs import resolve_run
    from vlkit.vqa.datamodules import build_datamodule
    from vlkit.vqa.evaluate import evaluate_split
    from vlkit.vqa.inference import load_trained

    run_dir = resolve_run(run, runs_root)
    bad = [item for item in overrides or [] if not item.startswith("data.")]
    if bad:
        raise VlkitError(f"evaluate takes only data.* overrides, got {bad}")
    trained = load_trained(run_dir, checkpoint)
    config = load_config(run_dir / "config.yaml", overrides or [])
    datamodule = build_datamodule(config.data, config.trainer.seed, trained.vocab, trained.answers)
    report = evaluate_split(trained.module, datamodule, split or datamodule.test_split_name, run_dir, results_out)
    _emit(report, as_json, _format_report(report))


@vqa_app.command("predict")
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
    from vlkit.runs import resolve_run
    from vlkit.vqa.predict import predict

    result = predict(resolve_run(run, runs_root), image, question, top_k, attention)
    if result.unknown_words:
        typer.echo(f"warning: words not in the training vocabulary (read as <unk>): {result.unknown_words}",
                   err=True)
    payload = {"question": question, "answers": [{"answer": a, "probability": p} for a, p in result.answers],
               "unknown_words": result.unknown_words, "attention": str(attention) if attention else None}
    lines = [f"{answer:<12} {probability:7.2%}" for answer, probability in result.answers]
    if attention:
        lines.append(f"attention map: {attention}")
    _emit(payload, as_json, "\n".join(lines))


@vqa_app.command("score")
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
    from vlkit.vqa.score import score_files

    report = score_files(questions, annotations, results, legacy)
    lines = [f"overall accuracy: {report['overall']:.2f}" + (" (legacy evaluator)" if legacy else ""),
             "per answer type:"]
    lines += [f"  {name:<10} {value:6.2f}" for name, value in sorted(report["perAnswerType"].items())]
    lines.append("per question type:")
    lines += [f"  {name:<32} {value:6.2f}" for name, value in sorted(report["perQuestionType"].items())]
    _emit(report, as_json, "\n".join(lines))


@vqa_app.command("import")
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
    from vlkit.config import load_config
    from vlkit.vqa.checkpoint_import import import_mcan, import_pytorch_vqa

    resolved = load_config(config, overrides or [])
    if source == "mcan-vqa":
        if answers is None:
            raise VlkitError("--from mcan-vqa needs --answers answer_dict.json (mcan-vqa's core/data/answer_dict.json)")
        run_dir = import_mcan(checkpoint, resolved, answers, out)
    elif source == "pytorch-vqa":
        run_dir = import_pytorch_vqa(checkpoint, resolved, out)
    else:
        raise VlkitError(f"--from {source!r} is not supported; supported: mcan-vqa, pytorch-vqa")
    typer.echo(f"imported {checkpoint} -> {run_dir}; next: vlkit vqa evaluate {run_dir} --split val")


@vqa_app.command("check")
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
    from vlkit.vqa.checks import VOCABULARIES, check_splits
    from vlkit.vqa.splits import load_split
    from vlkit.vqa.vqa_files import read_results

    if vocabulary not in VOCABULARIES:
        raise VlkitError(f"--answers must be one of {sorted(VOCABULARIES)}, got {vocabulary!r}")
    train = load_split(train_split, root, version)
    if train.annotations is None:
        raise VlkitError(f"--train {train_split!r} has no annotations: train on train, val or vg")
    evaluation = load_split(eval_split, root, version) if eval_split else None
    report = check_splits(train, evaluation, read_results(results) if results else None, vocabulary,
                          FeatureStore(features) if features else None)
    _emit(report, as_json, _format_check(report))


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


def _parse_shard(shard: Optional[str]) -> tuple[int, int]:
    """--shard K/N, or the launcher's RANK/WORLD_SIZE under torchrun, or 0/1."""
    import os

    if shard:
        try:
            index, count = (int(part) for part in shard.split("/"))
        except ValueError as error:
            raise VlkitError(f"--shard must look like K/N (e.g. 0/4), got {shard!r}") from error
        return index, count
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


@features_app.command("extract")
def features_extract(
    images: Path = typer.Option(..., "--images", help="folder of images (COCO file names carry the ids)"),
    out: Path = typer.Option(..., "--out", help="store directory (a shard gets out/shard-K-of-N)"),
    model: str = typer.Option("resnet152", "--model", help="resnet18 | resnet50 | resnet101 | resnet152"),
    grid: int = typer.Option(14, "--grid", help="output grid G: images are resized to 32G x 32G"),
    pooled: bool = typer.Option(False, "--pooled", help="store the average-pooled vector instead of the grid"),
    weights: Optional[Path] = typer.Option(None, "--weights", help="state_dict file (default: torchvision cache)"),
    random_weights: bool = typer.Option(False, "--random-weights", help="untrained backbone (recorded)"),
    batch_size: int = typer.Option(32, "--batch-size"),
    workers: int = typer.Option(2, "--workers", help="decoding processes"),
    shard: Optional[str] = typer.Option(None, "--shard", help="K/N: extract the K-th of N slices"),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda | cuda:1 (under torchrun: cuda:LOCAL_RANK)"),
    half: Optional[str] = typer.Option(None, "--half", help="bf16 | fp16 autocast + channels-last on a GPU"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="finish despite corrupt/missing images"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Extract CNN grid or pooled features of an image folder once; rerunning resumes.

    Example: vlkit features extract --images train2014 --model resnet152 --grid 14 --out feats/coco-r152-14x14
    """
    import dataclasses
    import os

    from vlkit.features.image import extract_image_features

    index, count = _parse_shard(shard)
    if count > 1:
        out = out / f"shard-{index}-of-{count}"
        if device == "cuda" and "LOCAL_RANK" in os.environ:
            device = f"cuda:{os.environ['LOCAL_RANK']}"
    report = extract_image_features(images, out, model, grid, pooled, weights, random_weights, batch_size, workers,
                                    (index, count), device, half, skip_bad)
    payload = {**dataclasses.asdict(report), "out": str(out)}
    _emit(payload, as_json, f"{report.extracted} extracted, {report.skipped_done} already done, "
                            f"{len(report.bad)} bad, of {report.total} images -> {out}"
                            + ("" if report.complete else " (incomplete)"))


@features_app.command("import")
def features_import(
    source: Path = typer.Option(..., "--src", help="folder of MCAN .npz files, or a bottom-up-attention .tsv"),
    out: Path = typer.Option(..., "--out", help="store directory"),
    fmt: str = typer.Option(..., "--format", help="mcan-npz | butd-tsv"),
    max_boxes: int = typer.Option(100, "--max-boxes", help="keep at most this many regions per image"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="finish despite unreadable items"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Import bottom-up-attention region features into a feature store; rerunning resumes.

    Example: vlkit features import --format mcan-npz --src coco_extract/val2014 --out feats/coco-butd-val
    """
    from vlkit.features.regions import import_butd_tsv, import_mcan_npz

    importers = {"mcan-npz": import_mcan_npz, "butd-tsv": import_butd_tsv}
    if fmt not in importers:
        raise VlkitError(f"--format must be one of {sorted(importers)}, got {fmt!r}")
    manifest = importers[fmt](source, out, max_boxes, skip_bad)
    _emit(manifest, as_json, f"{manifest['rows_done']} of {manifest['count']} images imported -> {out}")


@features_app.command("merge")
def features_merge(
    shards: list[Path] = typer.Argument(..., help="shard store directories"),
    out: Path = typer.Option(..., "--out", help="the merged store directory"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Join the shard stores of one extraction into one store.

    Example: vlkit features merge feats/r152/shard-0-of-2 feats/r152/shard-1-of-2 --out feats/r152-all
    """
    from vlkit.features.merge import merge_stores

    manifest = merge_stores(shards, out)
    _emit(manifest, as_json, f"merged {len(shards)} shards: {manifest['rows_done']} rows -> {out}")


@features_app.command("info")
def features_info(
    store: Path = typer.Argument(..., help="store directory"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Print a store's manifest, counts and size.

    Example: vlkit features info feats/coco-r152-14x14
    """
    from vlkit.features.store import FeatureStore

    info = FeatureStore(store).info()
    lines = [f"{key}: {value}" for key, value in info.items() if key != "bad_ids"]
    lines.append(f"bad_ids: {len(info.get('bad_ids', []))} {info.get('bad_ids', [])[:10]}")
    _emit(info, as_json, "\n".join(lines))


@runs_app.command("list")
def runs_list(
    root: str = typer.Option("runs", "--root", help="runs root directory"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """List runs with their status, epochs and metrics.

    Example: vlkit runs list --root runs
    """
    from vlkit.runs import list_runs

    infos = list_runs(root)
    rows = [{"path": str(i.path), "task": i.task, "status": i.status, "created": i.created, "epochs": i.epochs,
             "best_val": i.best_metric, "test": i.test_metric} for i in infos]
    if as_json:
        typer.echo(json.dumps({"runs": rows}))
        return
    if not rows:
        typer.echo(f"no runs under {root}")
        return
    typer.echo(f"{'created':<20} {'task':<6} {'status':<12} {'epochs':>6} {'best val':>9} {'test':>7}  path")
    for row in rows:
        best = "-" if row["best_val"] is None else f"{row['best_val']:.2f}"
        test = "-" if row["test"] is None else f"{row['test']:.2f}"
        typer.echo(f"{row['created']:<20} {row['task']:<6} {row['status']:<12} {row['epochs']:>6} {best:>9} "
                   f"{test:>7}  {row['path']}")


def main() -> None:
    """Console-script entry point: run the app, turning VlkitError into a one-line message and exit 2."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("vlkit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        app()
    except VlkitError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
