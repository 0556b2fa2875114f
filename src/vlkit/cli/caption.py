"""`vlkit caption ...`: prepare, train, evaluate, predict, score and import for image captioning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from vlkit.cli.output import emit, progress_on_stderr
from vlkit.cli.training import add_train_and_evaluate
from vlkit.core.errors import VlkitError

if TYPE_CHECKING:
    from vlkit.caption.task import CaptionTask

app = typer.Typer(help="Image captioning.", no_args_is_help=True)


def load_task() -> "CaptionTask":
    """The captioning task (imported only when a command runs)."""
    from vlkit.caption.task import CaptionTask

    return CaptionTask()


add_train_and_evaluate(
    app, load_task,
    train_help="Train a captioning model; with no arguments, show_attend_tell on the synthetic shapes set on the "
               "CPU.\n\nExample: vlkit caption train --config configs/caption/show_attend_tell_coco.yaml "
               "data.folder=data/coco_prepared encoder.weights=resnet101-63fe2227.pth",
    evaluate_help="Caption a split with a trained run (beam search of its decoding section): predictions_<split>.json "
                  "in the run (COCO results format) and the coco-caption metrics.\n\nExample: vlkit caption "
                  "evaluate runs/caption/show_attend_tell_coco-20261129-101500 --split test decoding.beam_size=5",
    split_help="test | val | train (default: the run's data.test_split)",
)


@app.command("predict")
def caption_predict(
    run: str = typer.Argument(..., help="run directory (or run name under --runs-root)"),
    image: Path = typer.Option(..., "--image", help="image file"),
    beam: Optional[int] = typer.Option(None, "--beam", help="beam size (default: the run's decoding.beam_size)"),
    attention: Optional[Path] = typer.Option(None, "--attention", help="write one attention map per word here (PNG)"),
    runs_root: str = typer.Option("runs", "--runs-root"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Caption an image with a trained run (CPU; the dataset is not needed).

    Example: vlkit caption predict RUN --image photo.jpg --beam 5 --attention words.png
    """
    from vlkit.core.runs import resolve_run
    from vlkit.vision.attention_figure import check_figure_path

    if attention is not None:
        check_figure_path(attention, inputs=[image])
    task = load_task()
    with progress_on_stderr():
        predictor = task.predictor_class.open(task, resolve_run(run, runs_root))
        if attention is not None and not predictor.trained.module.model.attends:
            raise VlkitError(f"model {predictor.trained.config.model_entry.name!r} does not attend to image regions: "
                             "leave out --attention")
        result = predictor.caption(image, beam)
        if attention is not None:
            predictor.save_attention(result, attention)
    payload = {"caption": result.caption, "log_probability": result.score,
               "attention": str(attention) if attention else None}
    emit(payload, as_json, result.caption + (f"\nattention maps: {attention}" if attention else ""))


@app.command("prepare")
def caption_prepare(
    karpathy: Path = typer.Option(..., "--karpathy", help="Karpathy split file: dataset_coco.json, "
                                                          "dataset_flickr8k.json or dataset_flickr30k.json"),
    images: Path = typer.Option(..., "--images", help="images root (COCO: holding train2014/ and val2014/)"),
    out: Path = typer.Option(..., "--out", help="prepared folder to write (or to finish, when rerun)"),
    min_word_freq: int = typer.Option(5, "--min-word-freq", help="words seen fewer times become <unk>"),
    word_counting: str = typer.Option("train", "--word-counting",
                                      help="train: count on the training split | tutorial: every caption of "
                                           "the file, kept when seen more than min-word-freq times, as sgrvinod"),
    captions_per_image: int = typer.Option(5, "--captions-per-image", help="sampled (or repeated) to this count"),
    max_len: int = typer.Option(50, "--max-len", help="words per caption"),
    long_captions: str = typer.Option("drop", "--long-captions", help="drop (as the tutorial) | truncate"),
    restval: str = typer.Option("train", "--restval", help="train: restval joins train | separate"),
    seed: int = typer.Option(123, "--seed", help="caption sampling seed (the tutorial's: 123)"),
    image_size: int = typer.Option(256, "--image-size", help="images are resized to this square size"),
    workers: int = typer.Option(4, "--workers", help="image decoding threads"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="record unreadable images as skipped instead of "
                                                            "stopping with an error"),
    features: Optional[str] = typer.Option(None, "--features", help="also encode every prepared image with this "
                                           "frozen ResNet (resnet18, resnet50, resnet101, resnet152) into a grid "
                                           "feature store OUT/features-<backbone>-<grid>/ (train with data.features)"),
    weights: Optional[Path] = typer.Option(None, "--weights", help="the ResNet's torchvision state dict (default: "
                                                                   "torchvision's ImageNet file in the torch cache)"),
    random_weights: bool = typer.Option(False, "--random-weights", help="random ResNet weights (smoke tests)"),
    grid: int = typer.Option(14, "--grid", help="features: the encoder's grid side (the model's grid_size; "
                                                "show_tell: 1)"),
    device: str = typer.Option("cpu", "--device", help="features: cpu | cuda[:N]"),
    batch_size: int = typer.Option(32, "--batch-size", help="features: images encoded together"),
    as_json: bool = typer.Option(False, "--json", help="print the manifest as one JSON object"),
) -> None:
    """Prepare a Karpathy split and its images: word map, encoded captions, 256x256 uint8 images (memory-mapped);
    with --features, also the frozen encoder's grid features of those images.

    Rerun the same command to finish an interrupted or failed preparation: the rows done are kept.

    Example: vlkit caption prepare --karpathy dataset_coco.json --images coco/ --out data/coco_prepared
    --features resnet101 --grid 14 --device cuda
    """
    from vlkit.caption.data.features import check_feature_settings, encode_prepared_features, features_folder_name
    from vlkit.caption.data.prepare import prepare_karpathy

    if out.resolve() in (karpathy.resolve(), images.resolve()):
        raise VlkitError(f"--out {out} is an input; give a new folder for the prepared data")
    if features is not None:
        check_feature_settings(features, weights, random_weights, grid, device, batch_size)
    with progress_on_stderr():
        manifest = prepare_karpathy(
            karpathy, images, out, min_word_freq=min_word_freq, captions_per_image=captions_per_image,
            max_len=max_len, long_captions=long_captions, restval=restval, word_counting=word_counting, seed=seed,
            skip_bad=skip_bad, image_size=image_size, workers=workers)
        if features is not None:
            store = encode_prepared_features(out, features, weights=weights, random_weights=random_weights, grid=grid,
                                             device=device, batch_size=batch_size)
            manifest = json.loads((out / "manifest.json").read_text())
    skipped = len(manifest["skipped_ids"])
    line = (f"{manifest['rows_done']} of {sum(manifest['splits'].values())} images prepared -> {out}"
            + (f" ({skipped} unreadable skipped)" if skipped else ""))
    if features is not None:
        line += (f"\n{store['rows_done']} of {store['count']} images encoded by {features} ({grid} x {grid} grid) -> "
                 f"{out / features_folder_name(features, grid)} (train with data.features="
                 f"{features_folder_name(features, grid)})")
    emit(manifest, as_json, line)


@app.command("score")
def caption_score(
    references: Path = typer.Option(..., "--references", help='COCO captions annotations, e.g. captions_val2014.json: '
                                                              '{"annotations": [{"image_id", "caption"}]}'),
    predictions: Path = typer.Option(..., "--predictions", help='COCO results: [{"image_id": int, "caption": str}]'),
    spice: bool = typer.Option(False, "--spice", help="also SPICE (needs Java and Stanford CoreNLP 3.6.0 jars)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """coco-caption metrics (pycocoevalcap): BLEU-1..4, METEOR, ROUGE-L, CIDEr(-D), optional SPICE, and the
    tutorial corpus BLEU-4 (nltk). Scores the predicted images; each needs reference captions.

    Example: vlkit caption score --references captions_val2014.json --predictions val_results.json --json
    """
    from vlkit.caption.metrics.score_files import score_files

    with progress_on_stderr():
        scores = score_files(references, predictions, meteor=True, spice=spice)
    lines = []
    for key, value in scores.scores.items():
        shown = f"{value:.4f}" if value is not None else f"unavailable ({scores.unavailable[key].label})"
        lines.append(f"{key:<15} {shown}")
    lines.append(f"{'tutorial_bleu4':<15} {scores.tutorial_bleu4:.4f}  (nltk corpus_bleu, as the Show-Attend-Tell "
                 "tutorial reports BLEU-4)")
    lines.append(f"{scores.num_images} images scored; tokenizer: {scores.tokenizer}")
    lines += [f"{key} unavailable: {reason}" for key, reason in scores.unavailable.items()]
    emit(scores.as_dict(), as_json, "\n".join(lines))


@app.command("import")
def caption_import(
    checkpoint: Path = typer.Argument(..., help="the tutorial's BEST_checkpoint_<base>.pth.tar"),
    source: str = typer.Option(..., "--from", help="sgrvinod (a-PyTorch-Tutorial-to-Image-Captioning)"),
    word_map: Path = typer.Option(..., "--word-map", help="the WORDMAP_<base>.json it was trained with"),
    out: Path = typer.Option(..., "--out", help="new run directory"),
    overrides: Optional[list[str]] = typer.Argument(None, help="key=value settings, e.g. data.folder=DIR"),
) -> None:
    """Import the captioning tutorial's checkpoint as a vlkit run, read without running code from the pickle.

    Example: vlkit caption import BEST_checkpoint_coco_5_cap_per_img_5_min_word_freq.pth.tar --from sgrvinod
    --word-map WORDMAP_coco_5_cap_per_img_5_min_word_freq.json --out runs/caption/tutorial data.folder=tutorial_data
    """
    from vlkit.caption.tutorial_run import import_tutorial_run

    if source != "sgrvinod":
        raise VlkitError(f"--from {source!r} is not supported; supported: sgrvinod")
    with progress_on_stderr():
        run_dir = import_tutorial_run(checkpoint, word_map, out, overrides or [])
    typer.echo(f"imported {checkpoint} -> {run_dir}; next: vlkit caption evaluate {run_dir} --split test "
               "data.folder=DIR")


@app.command("grounding")
def caption_grounding(
    run: str = typer.Argument(..., help="a run trained on the synthetic shapes set (data.dataset=synthetic_shapes)"),
    split: str = typer.Option("test", "--split", help="test | val | train"),
    checkpoint: str = typer.Option("best", "--checkpoint", help="best | last"),
    runs_root: str = typer.Option("runs", "--runs-root"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Where the attention of each shape word falls: its share inside the named shape's box, against the box's share
    of the image (what attention spread evenly would give).

    Example: vlkit caption grounding runs/caption/show_attend_tell_synthetic-20261129-101500 --json
    """
    from vlkit.caption.grounding import run_grounding
    from vlkit.core.runs import resolve_run

    with progress_on_stderr():
        report = run_grounding(load_task(), resolve_run(run, runs_root), split, checkpoint)
    emit(report.as_dict(), as_json,
         f"{report.words} shape words: {report.grounding:.1%} of their attention inside the named shape's box "
         f"(the box covers {report.box_area_share:.1%} of the image)"
         + (f"; {report.misnamed} named a shape of another kind by its colour" if report.misnamed else ""))
