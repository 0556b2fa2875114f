"""Prepared captioning data as a Lightning data module (`data.dataset: prepared`), scored by coco-caption metrics.

Training items are captions, as the tutorial's (each image's C captions are C items, shuffled each
epoch); evaluation items are images, each decoded once. A batch is a dict:
    images    (B, 3, S, S) uint8   the item's image, or, with `data.features`:
    features  (B, P, D) float16    its grid features (P = G x G regions) from the frozen encoder's store
                                   (`vlkit.caption.data.features`), read instead of the image
    captions  (B, T) int64         training: `<start> words <end> <pad>...` (T = max_len + 2)
    lengths   (B,) int64           training: words + 2
    index     (B,) int64           position of the item in its split
    counted   (B,) bool            False for the padding items of an evaluation shard
Evaluation batches hold images (or features), index and counted only: the model decodes the captions.

Predictions of a split are (N, L) word indices (no `<start>`/`<end>`, `<pad>` after the words), one
row per image. Scoring turns them into words and compares them with every reference caption of the
image: the untruncated Karpathy captions of a vlkit prepared folder, or, for the tutorial's files
(which keep no raw captions), the C encoded captions without their special tokens, as the tutorial
validates. Metrics are pycocoevalcap's (`vlkit.caption.metrics.score_captions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader

from vlkit.caption.data.dataset import CaptionDataset, open_caption_split
from vlkit.caption.data.features import open_feature_store
from vlkit.caption.data.registry import register_dataset
from vlkit.caption.data.word_map import WordMap
from vlkit.caption.metrics import score_captions
from vlkit.caption.run_files import CaptionVocabularies
from vlkit.core.errors import VlkitError
from vlkit.core.sampling import LoaderOptions, PositionDataset, grouped_loader, unpack_positions
from vlkit.core.validation import check_positive_int
from vlkit.features.store import FeatureStore


@dataclass
class PreparedCaptionData(LoaderOptions):
    """The data section of `data.dataset: prepared`: a `vlkit caption prepare` folder or the tutorial's files."""

    folder: str = ""  # the prepared folder, or the folder of the tutorial's *_IMAGES_*.hdf5 ... WORDMAP_*.json
    tutorial_base: Optional[str] = None  # the tutorial's base name (e.g. coco_5_cap_per_img_5_min_word_freq)
    batch_size: int = 32  # the tutorial's
    eval_batch_size: int = 64
    group_by_image: bool = False  # True: one image's captions in the same batch (fewer distinct images per step)
    val_split: str = "val"
    test_split: str = "test"
    train_subset: Optional[int] = None  # keep only the first N training images (smoke tests)
    eval_subset: Optional[int] = None  # keep only the first N validation/test images
    features: Optional[str] = None  # read grid features instead of images: a store folder inside `folder` (made by
    # vlkit caption prepare --features, e.g. features-resnet101-14) or a path; needs a frozen ResNet encoder

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self, "train_subset", "eval_subset", optional=True)


class CaptionItems(PositionDataset):
    """Training: positions are caption items of a `CaptionDataset`; evaluation: positions are its images."""

    def __init__(self, data: CaptionDataset, per_image: bool, count: int, features: Optional[FeatureStore] = None):
        self.data = data
        self.per_image = per_image
        self.count = count
        self.features = features

    def __len__(self) -> int:
        return self.count

    def collate(self, positions: list[int]) -> dict[str, torch.Tensor]:
        index, counted = unpack_positions(positions)
        batch = {"index": index, "counted": counted}
        if self.per_image:
            rows = self.data.data.rows[index.numpy()]
        else:
            rows = np.array([self.data.image_row(int(i)) for i in index], dtype=np.int64)
            columns = index.numpy() % self.data.per_image
            batch["captions"] = torch.as_tensor(np.asarray(self.data.data.captions[rows, columns]), dtype=torch.long)
            batch["lengths"] = torch.as_tensor(np.asarray(self.data.data.lengths[rows, columns]), dtype=torch.long)
        if self.features is not None:
            stored = self.features.get(self.data.data.image_ids[rows]).features  # (B, P, D) float16
            batch["features"] = torch.from_numpy(np.ascontiguousarray(stored))
        else:
            batch["images"] = torch.from_numpy(np.stack([self.data.data.images[int(row)] for row in rows]))
        return batch


@register_dataset("prepared", PreparedCaptionData)
class CaptionDataModule(pl.LightningDataModule):
    """Splits of a prepared folder by name; `vocabularies` hold the word map (a trained run's must equal the
    data's) and the image size."""

    def __init__(self, options: PreparedCaptionData, seed: int, vocabularies: Optional[CaptionVocabularies] = None):
        super().__init__()
        self.config = options
        self.seed = seed
        self.word_map: Optional[WordMap] = vocabularies.word_map if vocabularies else None
        self.image_size: Optional[int] = vocabularies.image_size if vocabularies else None
        self.splits: dict[str, CaptionDataset] = {}
        self.check_report: Optional[dict] = None
        self.test_split_name = options.test_split
        self.store: Optional[FeatureStore] = None

    @property
    def vocabularies(self) -> CaptionVocabularies:
        return CaptionVocabularies(self.word_map, self.image_size)

    def folder(self) -> str:
        """The folder the splits are read from (a subclass may make it first)."""
        if not self.config.folder:
            raise VlkitError("data.folder is not set: give the folder made by vlkit caption prepare (or the folder "
                             "of the tutorial's prepared files), e.g. data.folder=data/coco_prepared")
        return self.config.folder

    def feature_store(self) -> Optional[FeatureStore]:
        """The grid feature store `data.features` names (None: the model reads images), opened on first use."""
        if self.config.features and self.store is None:
            self.store = open_feature_store(self.folder(), self.config.features)
        return self.store

    def setup(self, stage: Optional[str] = None) -> None:
        train = self.split("train")
        if self.word_map is None:
            self.word_map = train.data.word_map
            self.image_size = int(train.data.images[int(train.data.rows[0])].shape[-1])
        elif train.data.word_map != self.word_map:
            raise VlkitError(f"the word map of {self.folder()} differs from the run's word_map.json: the run was "
                             "trained on other prepared data, whose word indices it predicts")
        if len(train) < self.config.batch_size:
            raise VlkitError(f"{len(train)} training captions are fewer than one batch "
                             f"(data.batch_size={self.config.batch_size})")
        self.split(self.config.val_split)

    def split(self, name: str) -> CaptionDataset:
        """The dataset of split `name` (train, the val split or the test split), opened on first use."""
        if name not in self.splits:
            dataset = open_caption_split(self.folder(), name, self.config.tutorial_base)
            subset = self.config.train_subset if name in ("train", "restval") else self.config.eval_subset
            if subset is not None:
                dataset.data.rows = dataset.data.rows[:subset]
            if len(dataset.data.rows) == 0:
                raise VlkitError(f"split {name!r} of {self.folder()} has no images")
            self.check_features(name, dataset)
            self.splits[name] = dataset
        return self.splits[name]

    def check_features(self, name: str, dataset: CaptionDataset) -> None:
        """With `data.features`, every image of split `name` must have its row in the store."""
        store = self.feature_store()
        if store is None:
            return
        if dataset.data.image_ids is None:
            raise VlkitError(f"data.features needs a folder made by vlkit caption prepare (it keys features by image "
                             f"id); {self.folder()} holds the tutorial's files, which record no image ids")
        ids = dataset.data.image_ids[dataset.data.rows]
        missing = ids[~store.has(ids)].tolist()
        if missing:
            raise VlkitError(f"{len(missing)} image(s) of split {name!r} have no features in {store.directory}: ids "
                             f"{missing[:10]}{' ...' if len(missing) > 10 else ''}; rerun vlkit caption prepare with "
                             f"--features {store.manifest.get('model')} --grid {store.manifest['grid'][0]} to finish "
                             "the store")

    def split_size(self, name: str) -> int:
        """Images of an evaluation split (one prediction each)."""
        return len(self.split(name).data.rows)

    def loader(self, name: str, training: bool = False) -> DataLoader:
        dataset = self.split(name)
        if training:
            items = CaptionItems(dataset, per_image=False, count=len(dataset), features=self.feature_store())
            groups = np.arange(len(dataset)) // dataset.per_image
        else:
            items = CaptionItems(dataset, per_image=True, count=self.split_size(name), features=self.feature_store())
            groups = np.arange(len(items))
        return grouped_loader(items, groups, self.config, self.seed, training)

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", training=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader(self.config.val_split)

    def has_answers(self, name: str) -> bool:
        return True

    def captions(self, predictions: torch.Tensor) -> list[str]:
        """Predicted word indices (N, L) -> N caption strings."""
        return [" ".join(self.word_map.words(row.tolist())) for row in predictions]

    def references(self, name: str) -> list[list[str]]:
        """Every reference caption of each image of split `name`, in split order."""
        data = self.split(name).data
        if data.references is not None:
            return [data.references[int(row)] for row in data.rows]
        return [[" ".join(self.word_map.words(caption.tolist())) for caption in data.captions[int(row)]]
                for row in data.rows]

    def image_ids(self, name: str) -> list[int]:
        """The image id of each image of split `name` (its row in the tutorial's files, which record none)."""
        data = self.split(name).data
        ids = data.image_ids if data.image_ids is not None else np.arange(len(data.captions))
        return [int(ids[int(row)]) for row in data.rows]

    def score(self, name: str, predictions: torch.Tensor) -> dict:
        """pycocoevalcap's scores (and the tutorial's BLEU-4) of the predicted captions of split `name`; METEOR
        on the test split when Java runs."""
        references = dict(enumerate(self.references(name)))
        predicted = dict(enumerate(self.captions(predictions)))
        meteor = name == self.test_split_name  # a JVM for seconds: the test split only
        scores = score_captions(references, predicted, meteor=meteor,
                                tokenizer="auto" if meteor else "python")
        return {key: value for key, value in scores.as_dict().items() if value is not None}

    def prediction_rows(self, name: str, predictions: torch.Tensor) -> list[dict]:
        """COCO results format: [{image_id, caption}] in split order."""
        return [{"image_id": image_id, "caption": caption}
                for image_id, caption in zip(self.image_ids(name), self.captions(predictions))]
