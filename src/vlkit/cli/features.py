"""`vlkit features ...`: extract, import, merge and inspect memory-mapped feature stores."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from vlkit.cli.output import emit
from vlkit.core.errors import VlkitError

app = typer.Typer(help="Visual features: extract once, read rows from a memory-mapped store.", no_args_is_help=True)


def _parse_shard(shard: Optional[str]) -> tuple[int, int]:
    """--shard K/N, or the launcher's RANK/WORLD_SIZE under torchrun, or 0/1."""
    if shard:
        try:
            index, count = (int(part) for part in shard.split("/"))
        except ValueError as error:
            raise VlkitError(f"--shard must look like K/N (e.g. 0/4), got {shard!r}") from error
        return index, count
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


@app.command("extract")
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

    from vlkit.features.image import extract_image_features

    index, count = _parse_shard(shard)
    if count > 1:
        out = out / f"shard-{index}-of-{count}"
        if device == "cuda" and "LOCAL_RANK" in os.environ:
            device = f"cuda:{os.environ['LOCAL_RANK']}"
    report = extract_image_features(images, out, model, grid, pooled, weights, random_weights, batch_size, workers,
                                    (index, count), device, half, skip_bad)
    payload = {**dataclasses.asdict(report), "out": str(out)}
    emit(payload, as_json, f"{report.extracted} extracted, {report.skipped_done} already done, "
                            f"{len(report.bad)} bad, of {report.total} images -> {out}"
                            + ("" if report.complete else " (incomplete)"))


@app.command("import")
def features_import(
    source: Path = typer.Option(..., "--src", help="folder of MCAN .npz files, a bottom-up-attention .tsv, "
                                                   "or an HCRN/DualVGR *_appearance_feat.h5 / *_motion_feat.h5"),
    out: Path = typer.Option(..., "--out", help="store directory"),
    fmt: str = typer.Option(..., "--format", help="mcan-npz | butd-tsv | hcrn-h5"),
    max_boxes: int = typer.Option(100, "--max-boxes", help="keep at most this many regions per image (regions)"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="finish despite unreadable items"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Import region features (bottom-up attention) or video clip features (HCRN/DualVGR HDF5) into a feature
    store; rerunning resumes.

    Example: vlkit features import --format mcan-npz --src coco_extract/val2014 --out feats/coco-butd-val
    Example: vlkit features import --format hcrn-h5 --src msvd-qa_motion_feat.h5 --out feats/msvd-motion
    """
    formats = ("mcan-npz", "butd-tsv", "hcrn-h5")
    if fmt not in formats:
        raise VlkitError(f"--format must be one of {list(formats)}, got {fmt!r}")
    if fmt == "hcrn-h5":
        from vlkit.features.hcrn_h5 import import_hcrn_h5

        manifest = import_hcrn_h5(source, out, skip_bad)
        emit(manifest, as_json, f"{manifest['rows_done']} of {manifest['count']} videos imported -> {out}")
        return
    from vlkit.features.regions import import_butd_tsv, import_mcan_npz

    importer = import_mcan_npz if fmt == "mcan-npz" else import_butd_tsv
    manifest = importer(source, out, max_boxes, skip_bad)
    emit(manifest, as_json, f"{manifest['rows_done']} of {manifest['count']} images imported -> {out}")


@app.command("extract-video")
def features_extract_video(
    videos: Path = typer.Option(..., "--videos", help="folder of videos (searched recursively)"),
    out: Path = typer.Option(..., "--out", help="store directory (a shard gets out/shard-K-of-N)"),
    kind: str = typer.Option(..., "--kind", help="appearance (a feature per frame) | motion (a feature per clip)"),
    mapping: Optional[Path] = typer.Option(None, "--mapping", help="MSVD's youtube_mapping.txt (clip name -> id); "
                                                                   "without it files must be video<N>.mp4"),
    model: Optional[str] = typer.Option(None, "--model", help="appearance: resnet18 | resnet50 | resnet101 "
                                        "(default) | resnet152; motion: resnext101 (default) | r3d_18 | r2plus1d_18"),
    clips: int = typer.Option(8, "--clips", help="clips per video"),
    frames_per_clip: int = typer.Option(16, "--frames-per-clip", help="consecutive frames per clip"),
    size: Optional[int] = typer.Option(None, "--size", help="frame size S x S (default 224 appearance, 112 motion)"),
    weights: Optional[Path] = typer.Option(None, "--weights", help="weights file (default: the torch hub cache)"),
    random_weights: bool = typer.Option(False, "--random-weights", help="untrained network (recorded)"),
    batch_size: int = typer.Option(2, "--batch-size", help="videos per forward pass"),
    workers: Optional[int] = typer.Option(None, "--workers", help="decoding processes (default: every core)"),
    shard: Optional[str] = typer.Option(None, "--shard", help="K/N: extract the K-th of N slices"),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda | cuda:1 (under torchrun: cuda:LOCAL_RANK)"),
    half: Optional[str] = typer.Option(None, "--half", help="bf16 | fp16 autocast on a GPU"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="finish despite corrupt/missing videos"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Extract HCRN-style clip features of a video folder once (C clips x F frames); rerunning resumes.

    Example: vlkit features extract-video --videos MSVD/YouTubeClips --mapping youtube_mapping.txt
    --kind motion --weights resnext-101-kinetics.pth --device cuda --out feats/msvd-motion
    """
    import dataclasses

    from vlkit.features.video import extract_video_features
    from vlkit.features.video_ids import video_files

    index, count = _parse_shard(shard)
    files = video_files(videos, mapping, skip_bad)
    if count > 1:
        out = out / f"shard-{index}-of-{count}"
        if device == "cuda" and "LOCAL_RANK" in os.environ:
            device = f"cuda:{os.environ['LOCAL_RANK']}"
    report = extract_video_features(files, out, kind, model, weights, random_weights, clips, frames_per_clip,
                                    batch_size, workers, (index, count), device, skip_bad, size, half)
    payload = {**dataclasses.asdict(report), "out": str(out)}
    emit(payload, as_json, f"{report.extracted} extracted, {report.skipped_done} already done, "
                            f"{len(report.bad)} bad, {len(report.short)} shorter than a clip, of {report.total} "
                            f"videos -> {out}" + ("" if report.complete else " (incomplete)"))


@app.command("merge")
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
    emit(manifest, as_json, f"merged {len(shards)} shards: {manifest['rows_done']} rows -> {out}")


@app.command("info")
def features_info(
    store: Path = typer.Argument(..., help="store directory"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Print a store's manifest, counts and size.

    Example: vlkit features info feats/coco-r152-14x14
    """
    from vlkit.features.store import FeatureStore

    info = FeatureStore(store).info()
    id_lists = ("skipped_ids", "failed_ids", "bad_ids")
    lines = [f"{key}: {value}" for key, value in info.items() if key not in id_lists]
    lines += [f"{key}: {len(info[key])} {info[key][:10]}" for key in id_lists if key in info]
    emit(info, as_json, "\n".join(lines))
