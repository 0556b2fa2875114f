"""`vlkit caption ...`: image captioning commands (for now: prepare and score)."""

from __future__ import annotations

from pathlib import Path

import typer

from vlkit.cli.output import emit, progress_on_stderr
from vlkit.core.errors import VlkitError

app = typer.Typer(help="Image captioning.", no_args_is_help=True)


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
    as_json: bool = typer.Option(False, "--json", help="print the manifest as one JSON object"),
) -> None:
    """Prepare a Karpathy split and its images: word map, encoded captions, 256x256 uint8 images (memory-mapped).

    Rerun the same command to finish an interrupted or failed preparation: the rows done are kept.

    Example: vlkit caption prepare --karpathy dataset_coco.json --images coco/ --out data/coco_prepared
    """
    from vlkit.caption.data.prepare import prepare_karpathy

    if out.resolve() in (karpathy.resolve(), images.resolve()):
        raise VlkitError(f"--out {out} is an input; give a new folder for the prepared data")
    with progress_on_stderr():
        manifest = prepare_karpathy(
            karpathy, images, out, min_word_freq=min_word_freq, captions_per_image=captions_per_image,
            max_len=max_len, long_captions=long_captions, restval=restval, word_counting=word_counting, seed=seed,
            skip_bad=skip_bad, image_size=image_size, workers=workers)
    skipped = len(manifest["skipped_ids"])
    emit(manifest, as_json, f"{manifest['rows_done']} of {sum(manifest['splits'].values())} images prepared -> {out}"
                            + (f" ({skipped} unreadable skipped)" if skipped else ""))


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
