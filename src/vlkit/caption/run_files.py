"""What a captioning run keeps to decode without its dataset: the word map and the size of the images it read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vlkit.caption.data.word_map import WordMap
from vlkit.core.errors import VlkitError
from vlkit.core.files import write_json_atomic

WORD_MAP_FILE = "word_map.json"  # the tutorial's WORDMAP layout
IMAGES_FILE = "images.json"  # {"image_size": S}: the models were trained on S x S images
RUN_FILES = (WORD_MAP_FILE, IMAGES_FILE)


@dataclass
class CaptionVocabularies:
    """The run's word map and the side S of the (3, S, S) images its encoder was trained on."""

    word_map: WordMap
    image_size: int


def write_caption_run_files(run_dir: Path, vocabularies: CaptionVocabularies) -> None:
    vocabularies.word_map.save(run_dir / WORD_MAP_FILE)
    write_json_atomic(run_dir / IMAGES_FILE, {"image_size": vocabularies.image_size})


def read_caption_run_files(run_dir: Path) -> CaptionVocabularies:
    path = run_dir / IMAGES_FILE
    try:
        image_size = json.loads(path.read_text())["image_size"]
    except (ValueError, KeyError, TypeError) as error:
        raise VlkitError(f"{path} is damaged: expected {{\"image_size\": S}} ({error})") from error
    return CaptionVocabularies(WordMap.load(run_dir / WORD_MAP_FILE), int(image_size))
