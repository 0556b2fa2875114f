"""Grid features of a prepared folder's images by the frozen captioning encoder (`vlkit caption prepare --features`).

Each prepared image (uint8 (3, S, S), exactly what training reads) goes through the encoder that
training builds (`vlkit.caption.models.encoders.build_encoder`, frozen): pixels / 255, ImageNet
mean/std, the ResNet up to its last stage, adaptive average pooling to G x G. Its (G * G, D) output is
one float16 row of a `grid` feature store (`vlkit.features.store`) keyed by image id, written under
the prepared folder as `features-<backbone>-<G>/`. Writing resumes like the image array: rows are
marked done only after they are flushed, and a rerun encodes only the rows not done. The prepared
manifest lists its stores under "features": {folder name: {backbone, weights_sha256, grid, complete}}.

Training reads these rows instead of the images with `data.features` (the store's folder name inside
`data.folder`, or a path): the model then skips its CNN (`CaptionModel.encode`), which must be the
same frozen backbone, weights and grid as the store's (`check_store_encoder`).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from vlkit.caption.data.prepared import MANIFEST, read_prepared_manifest
from vlkit.caption.models.encoders import (WEIGHTS_NONE, WEIGHTS_TORCHVISION, EncoderConfig, ImageEncoder,
                                           build_encoder, encoder_weights_file, torchvision_weights_file)
from vlkit.core.errors import VlkitError
from vlkit.core.files import write_json_atomic
from vlkit.features.image import BACKBONES, RANDOM_WEIGHTS_SEED, check_extraction_settings
from vlkit.features.store import FeatureStore, StoreWriter

RANDOM = "random"  # the weights identity of a store encoded with --random-weights
PREPROCESSING = "prepared uint8 images / 255, ImageNet mean/std, adaptive average pooling to the grid"


def features_folder_name(backbone: str, grid: int) -> str:
    """The store folder inside a prepared folder, e.g. features-resnet101-14."""
    return f"features-{backbone}-{grid}"


def weights_identity(path: Optional[Path]) -> str:
    """The SHA-256 of a weights file, or "random" (None: random weights)."""
    if path is None:
        return RANDOM
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_feature_settings(backbone: str, weights: Optional[Path], random_weights: bool, grid: int, device: str,
                           batch_size: int) -> None:
    """Every `--features` setting and the weights file, checked before any image is prepared."""
    if backbone not in BACKBONES:
        raise VlkitError(f"--features {backbone!r} is not a frozen encoder; choose one of {', '.join(BACKBONES)}")
    if random_weights and weights is not None:
        raise VlkitError("--random-weights and --weights exclude each other")
    if grid < 1:
        raise VlkitError(f"--grid must be at least 1 (the encoder pools its last feature map to grid x grid), "
                         f"got {grid}")
    check_extraction_settings(grid, batch_size, 0, (0, 1), device, None)
    if weights is not None and not Path(weights).is_file():
        raise VlkitError(f"--weights {weights}: no such file")
    if weights is None and not random_weights and not torchvision_weights_file(backbone).is_file():
        path = torchvision_weights_file(backbone)
        raise VlkitError(f"--features {backbone} needs ImageNet weights: {path} is missing. Place torchvision's "
                         f"{path.name} there (vlkit never downloads), pass --weights FILE, or --random-weights "
                         "(untrained, recorded; for tests)")


def frozen_encoder(backbone: str, weights: Optional[Path], random_weights: bool, grid: int
                   ) -> tuple[ImageEncoder, str]:
    """The frozen captioning encoder of `backbone` pooling to grid x grid, and its weights identity: the file
    `weights`, else torchvision's ImageNet file in the torch hub cache, or (`random_weights`) random weights from
    torch.manual_seed(RANDOM_WEIGHTS_SEED)."""
    if backbone not in BACKBONES:
        raise VlkitError(f"--features {backbone!r} is not a frozen encoder; choose one of {', '.join(BACKBONES)}")
    if random_weights and weights is not None:
        raise VlkitError("--random-weights and --weights exclude each other")
    name = WEIGHTS_NONE if random_weights else str(weights) if weights is not None else WEIGHTS_TORCHVISION
    config = EncoderConfig(backbone=backbone, weights=name, fine_tune=False)
    if random_weights:
        with torch.random.fork_rng():
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            encoder = build_encoder(config, grid, pretrained=False)
        return encoder.eval(), RANDOM
    encoder = build_encoder(config, grid, pretrained=True)
    return encoder.eval(), weights_identity(encoder_weights_file(config))


def encode_prepared_features(directory: str | Path, backbone: str, *, weights: Optional[str | Path] = None,
                             random_weights: bool = False, grid: int = 14, device: str = "cpu",
                             batch_size: int = 32, progress: bool = True) -> dict:
    """Encode every prepared image of `directory` not encoded yet into `directory/features-<backbone>-<grid>/`;
    returns the store's manifest. The prepared images must be complete."""
    if grid < 1:
        raise VlkitError(f"--grid must be at least 1 (the encoder pools its last feature map to grid x grid), "
                         f"got {grid}")
    check_extraction_settings(grid, batch_size, 0, (0, 1), device, None)
    directory = Path(directory)
    prepared = read_prepared_manifest(directory)
    if not prepared.get("complete"):
        raise VlkitError(f"{directory} is not completely prepared: finish its images before encoding them "
                         "(rerun vlkit caption prepare)")
    encoder, identity = frozen_encoder(backbone, Path(weights) if weights is not None else None, random_weights, grid)
    splits = {name: _done_rows(directory / name) for name in prepared["splits"]}
    ids = np.concatenate([split_ids for split_ids, _ in splits.values()])
    if len(np.unique(ids)) != len(ids):
        raise VlkitError(f"{directory}: an image id appears in two splits; a feature store keys rows by image id")
    name = features_folder_name(backbone, grid)
    store_manifest = {"source": str(directory.resolve()), "model": backbone, "weights_sha256": identity,
                      "random_weights": random_weights, "grid": [grid, grid], "image_size": prepared["image_size"],
                      "preprocessing": PREPROCESSING}
    writer = StoreWriter(directory / name, ids, grid * grid, encoder.out_dim, "grid", store_manifest)
    pending = set(writer.pending().tolist())
    encoder.to(device)
    with torch.inference_mode(), tqdm(total=len(pending), unit="img", desc=f"{backbone} features", file=sys.stderr,
                                      disable=not progress) as bar:
        for split, (split_ids, rows) in splits.items():
            keep = np.isin(split_ids, list(pending))
            images = np.load(directory / split / "images.npy", mmap_mode="r")
            for start in range(0, int(keep.sum()), batch_size):
                chunk = slice(start, start + batch_size)
                chosen_ids, chosen_rows = split_ids[keep][chunk], rows[keep][chunk]
                pixels = torch.from_numpy(np.asarray(images[chosen_rows])).to(device)
                encoded = encoder(pixels).float().cpu().numpy()  # (B, G * G, D)
                writer.write(chosen_ids, encoded, [grid * grid] * len(chosen_ids))
                bar.update(len(chosen_ids))
    manifest = writer.finish()
    prepared = read_prepared_manifest(directory)
    prepared.setdefault("features", {})[name] = {"backbone": backbone, "weights_sha256": identity, "grid": grid,
                                                 "complete": manifest["complete"]}
    write_json_atomic(directory / MANIFEST, prepared)
    return manifest


def _done_rows(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(image ids, rows) of the images of a prepared split that are done, both (M,) int64."""
    rows = np.flatnonzero(np.load(folder / "done.npy")).astype(np.int64)
    return np.load(folder / "ids.npy")[rows], rows


def feature_store_path(folder: str | Path, features: str) -> Path:
    """The store `data.features` names: a folder inside the prepared `folder` (e.g. features-resnet101-14), or a
    path of its own; a missing store is a VlkitError."""
    inside = Path(folder) / features
    for candidate in (inside, Path(features)):
        if (candidate / "manifest.json").is_file():
            return candidate
    made = read_prepared_manifest(folder).get("features", {}) if (Path(folder) / MANIFEST).is_file() else {}
    listed = f"; {folder} has {', '.join(made)}" if made else f"; {folder} has none"
    raise VlkitError(f"data.features={features}: no feature store at {inside} nor at {features}{listed}. Make one "
                     f"with vlkit caption prepare ... --out {folder} --features BACKBONE --grid G")


def open_feature_store(folder: str | Path, features: str) -> FeatureStore:
    """The grid feature store `data.features` names (see `feature_store_path`)."""
    path = feature_store_path(folder, features)
    store = FeatureStore(path)
    if store.manifest["kind"] != "grid" or not isinstance(store.manifest.get("grid"), list):
        raise VlkitError(f"{path} holds {store.manifest['kind']} features; captioning reads grid features made by "
                         "vlkit caption prepare --features")
    return store


def check_store_encoder(manifest: dict, path: str | Path, backbone: str, grid: int) -> None:
    """A store's backbone and grid must be what the configured encoder and model compute (`manifest`: the store's)."""
    stored_grid = manifest["grid"][0]
    if manifest.get("model") != backbone or stored_grid != grid:
        raise VlkitError(f"the features in {path} come from {manifest.get('model')} pooled to {stored_grid} x "
                         f"{stored_grid}, but the model reads encoder.backbone={backbone} pooled to {grid} x {grid}: "
                         f"make them with vlkit caption prepare ... --features {backbone} --grid {grid}, or set "
                         f"encoder.backbone={manifest.get('model')} and a model grid of {stored_grid}")


def check_store_weights(manifest: dict, path: str | Path, encoder: EncoderConfig) -> None:
    """A store's weights must be the configured encoder's (checked before training: the checkpoint keeps the encoder,
    which later captions new images); random weights on both sides pass (smoke tests)."""
    stored = manifest.get("weights_sha256")
    configured = weights_identity(encoder_weights_file(encoder))
    if stored != configured:
        shown = {RANDOM: "random weights"}
        raise VlkitError(f"the features in {path} were computed with {shown.get(stored, f'weights of SHA-256 {stored}')}"
                         f", but encoder.weights={encoder.weights} is "
                         f"{shown.get(configured, f'a file of SHA-256 {configured}')}: a model trained on them would "
                         "caption new images with another encoder. Set encoder.weights to the file the features were "
                         "made with, or remake them with --weights")
