"""MSVD-QA / MSRVTT-QA questions over precomputed clip features (`data.dataset: clip_features`).

Two `clips` feature stores (`vlkit.features.store`), made by `vlkit videoqa prepare` (or imported from
HCRN/DualVGR HDF5 files with `vlkit features import --format hcrn-h5`): appearance, one vector per frame
(clip_shape [C, F], e.g. 8 x 16 ResNet-101 frames), and motion, one vector per clip ([C, 1], e.g. the 3D
ResNeXt-101). Batches add
    appearance  (B, C, F, Da) float32
    motion      (B, C, Dm) float32
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from vlkit.core.errors import VlkitError
from vlkit.features.store import FeatureStore
from vlkit.videoqa.data.base import QUESTION_KEYS, VideoQADataModule, VideoQAOptions
from vlkit.videoqa.data.registry import register_dataset
from vlkit.videoqa.run_files import VideoQAVocabularies

PROVIDES = ("appearance", "motion", *QUESTION_KEYS)


@dataclass
class ClipFeaturesData(VideoQAOptions):
    """The data section of `data.dataset: clip_features`."""

    annotations: Optional[str] = None  # folder of {train,val,test}_qa.json
    appearance: Optional[str] = None  # clips feature store of per-frame appearance features
    motion: Optional[str] = None  # clips feature store of per-clip motion features


def clip_shape(store: FeatureStore) -> tuple[int, int]:
    """(C, F) of a clips store; any other store kind is an error that says what it holds."""
    manifest = store.manifest
    if manifest["kind"] != "clips" or len(manifest.get("clip_shape", [])) != 2:
        raise VlkitError(f"{store.directory} holds {manifest['kind']} features, not video clips: make it with "
                         "vlkit videoqa prepare or vlkit features import --format hcrn-h5")
    clips, frames = manifest["clip_shape"]
    return int(clips), int(frames)


class ClipFeatureSource:
    """Appearance (U, C, F, Da) and motion (U, C, Dm) rows of two clips stores with the same clip count."""

    per_question = True

    def __init__(self, appearance: FeatureStore, motion: FeatureStore):
        self.appearance, self.motion = appearance, motion
        self.appearance_shape, motion_shape = clip_shape(appearance), clip_shape(motion)
        if motion_shape[1] != 1 or motion_shape[0] != self.appearance_shape[0]:
            raise VlkitError(f"the motion store {motion.directory} has clip_shape {list(motion_shape)}; it must hold "
                             f"one vector per clip for the {self.appearance_shape[0]} clips of the appearance store")

    def has(self, video_ids: np.ndarray) -> np.ndarray:
        return self.appearance.has(video_ids) & self.motion.has(video_ids)

    def read(self, video_ids: np.ndarray) -> dict[str, torch.Tensor]:
        appearance = self.appearance.get(video_ids).features.astype(np.float32)  # (U, C * F, Da)
        motion = self.motion.get(video_ids).features.astype(np.float32)  # (U, C, Dm)
        return {"appearance": torch.from_numpy(appearance).reshape(len(video_ids), *self.appearance_shape, -1),
                "motion": torch.from_numpy(motion)}


@register_dataset("clip_features", ClipFeaturesData, PROVIDES)
class ClipFeaturesDataModule(VideoQADataModule):
    """`data.annotations` over the stores `data.appearance` and `data.motion`."""

    def __init__(self, options: ClipFeaturesData, seed: int, vocabularies: Optional[VideoQAVocabularies] = None):
        super().__init__(options, seed, vocabularies)
        for key in ("annotations", "appearance", "motion"):
            if not getattr(options, key):
                raise VlkitError(f"data.{key} is not set: clip_features needs data.annotations (the folder of "
                                 "{train,val,test}_qa.json) and the stores data.appearance and data.motion "
                                 "(see docs/videoqa.md)")
        self.source = ClipFeatureSource(FeatureStore(options.appearance), FeatureStore(options.motion))
        trained_on = vocabularies.video_input.get("clip_shape") if vocabularies else None
        if trained_on is not None and list(trained_on) != list(self.source.appearance_shape):
            raise VlkitError(f"the run was trained on {trained_on[0]} clips x {trained_on[1]} frames but "
                             f"{options.appearance} holds {self.source.appearance_shape[0]} x "
                             f"{self.source.appearance_shape[1]}: extract the features with those clip settings")

    @property
    def feature_dims(self) -> dict[str, int]:
        """Values per row of the appearance and motion stores."""
        return {"appearance": int(self.source.appearance.manifest["dim"]), "motion": int(self.source.motion.manifest["dim"])}

    def annotations_dir(self) -> Path:
        return Path(self.config.annotations)

    def video_source(self) -> ClipFeatureSource:
        return self.source

    def video_input(self) -> dict:
        source = self.source
        return {"kind": "features", "clip_shape": list(source.appearance_shape),
                "appearance": source.appearance.manifest, "motion": source.motion.manifest}

    def video_source_name(self) -> str:
        return f"{self.config.appearance} and {self.config.motion}"
