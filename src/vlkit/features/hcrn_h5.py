"""Import HCRN/DualVGR's preprocessed video features (HDF5) into a `clips` feature store.

HCRN (thaolmk54/hcrn-videoqa, preprocess/preprocess_features.py `generate_h5`) and DualVGR
(NJUPT-MCC/DualVGR-VideoQA, the same file) write one file per feature kind, rows in shuffled video order:
- `<dataset>_appearance_feat.h5`: `resnet_features` (N, C, F, 2048) float32 (ResNet-101 per frame) and `ids` (N,);
- `<dataset>_motion_feat.h5`: `resnext_features` (N, C, 2048) float32 (3D ResNeXt-101 per clip) and `ids` (N,).
C = 8, F = 16 for MSVD-QA and MSRVTT-QA. The kind is read from the dataset name. A video the reference could
not read gets a row of zeros: such rows are reported as unreadable, like a corrupt video in extraction.
Rows are read in chunks (the file is never loaded whole); a rerun resumes where an import stopped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from vlkit.core.errors import VlkitError
from vlkit.features.store import StoreWriter, finish_writing

LAYOUTS = {  # dataset name -> (feature kind, dimensions, model that made it)
    "resnet_features": ("appearance", 4, "resnet101"),
    "resnext_features": ("motion", 3, "resnext101"),
}
EXPECTED = "resnet_features (N, C, F, D) [appearance] or resnext_features (N, C, D) [motion], and ids (N,)"


def _open_h5(h5_file: Path):
    try:
        import h5py
    except ImportError as error:
        raise VlkitError("reading HCRN/DualVGR .h5 feature files needs h5py: pip install h5py") from error
    if not h5_file.is_file():
        raise VlkitError(f"HDF5 file not found: {h5_file}")
    try:
        return h5py.File(h5_file, "r")
    except OSError as error:
        raise VlkitError(f"{h5_file} is not an HDF5 file ({str(error).splitlines()[0][:200]})") from error


def _layout(handle, h5_file: Path) -> tuple[str, str, tuple[int, ...]]:
    """(dataset name, feature kind, shape) of an HCRN file, after checking it against its `ids`."""
    found = {name: getattr(handle[name], "shape", "group") for name in handle}
    names = [name for name in LAYOUTS if name in handle]
    if len(names) != 1 or "ids" not in handle or not all(hasattr(handle[n], "shape") for n in (*names, "ids")):
        raise VlkitError(f"{h5_file} is not an HCRN/DualVGR feature file: expected {EXPECTED}; found {found}")
    name = names[0]
    kind, dims, _ = LAYOUTS[name]
    shape, ids_shape = handle[name].shape, handle["ids"].shape
    if len(shape) != dims or len(ids_shape) != 1 or ids_shape[0] != shape[0] or shape[0] == 0:
        raise VlkitError(f"{h5_file}: {name} has shape {shape} and ids {ids_shape}; expected {EXPECTED} "
                         "with one id per row")
    return name, kind, shape


def import_hcrn_h5(h5_file: Path, out: Path, skip_bad: bool = False, chunk: int = 32) -> dict:
    """Import one HCRN/DualVGR `*_appearance_feat.h5` or `*_motion_feat.h5` into the store `out`; returns its
    manifest. Rows: appearance (C * F, D) with clip_shape [C, F]; motion (C, D) with clip_shape [C, 1]."""
    h5_file = Path(h5_file)
    with _open_h5(h5_file) as handle:
        name, kind, shape = _layout(handle, h5_file)
        ids = np.asarray(handle["ids"][:]).astype(np.int64)
        unique, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            repeated = unique[counts > 1][:10].tolist()
            raise VlkitError(f"{h5_file}: ids {repeated} appear in more than one row (was the file written to the "
                             "end? an unfinished HCRN run leaves rows of id 0)")
        clip_shape = [shape[1], shape[2] if kind == "appearance" else 1]
        dim = shape[-1]
        manifest = {
            "source": str(h5_file.resolve()), "model": f"{LAYOUTS[name][2]} (hcrn-h5 import)", "weights_sha256": None,
            "random_weights": False, "grid": None, "feature": kind, "clip_shape": clip_shape,
            "preprocessing": f"imported from HCRN/DualVGR {name}",
        }
        writer = StoreWriter(out, ids.tolist(), clip_shape[0] * clip_shape[1], dim, "clips", manifest)
        pending = np.isin(ids, writer.pending())
        features, bad = handle[name], []
        with tqdm(total=int(pending.sum()), unit="video", desc=f"importing {name}") as progress:
            for start in range(0, len(ids), chunk):
                rows = np.flatnonzero(pending[start:start + chunk])
                if len(rows) == 0:
                    continue
                block = np.asarray(features[start:start + chunk])[rows].reshape(len(rows), -1, dim)  # (B, K, D)
                block_ids = ids[start:start + chunk][rows]
                zero = ~block.any(axis=(1, 2))
                broken = ~np.isfinite(block).all(axis=(1, 2))
                bad += [(int(i), f"video {i}: all-zero features (the reference writes zeros for a video it could "
                                 "not read)") for i in block_ids[zero]]
                bad += [(int(i), f"video {i}: features not finite") for i in block_ids[broken & ~zero]]
                keep = ~(zero | broken)
                if keep.any():
                    writer.write(block_ids[keep], block[keep], [block.shape[1]] * int(keep.sum()))
                progress.update(len(rows))
    return finish_writing(writer, bad, skip_bad)
