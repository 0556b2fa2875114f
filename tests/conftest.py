"""Shared fixtures and helpers: generated easy-VQA-format datasets, VQA configs and models, running the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from torch import nn

from vlkit.core.config import Config, load_config
from vlkit.synth.shapes import write_shapes_dataset
from vlkit.text.vocabulary import Vocabulary
from vlkit.vqa.data.vocabularies import VQAVocabularies
from vlkit.vqa.models import MODELS
from vlkit.vqa.module import VQAModule
from vlkit.vqa.task import VQATask

REPO = Path(__file__).resolve().parents[1]
LEGACY_RUNS = Path(__file__).resolve().parent / "data" / "legacy_runs"


def vqa_config(*overrides: str, config_file: Path | None = None) -> Config:
    """The VQA config of the defaults (or `config_file`) with `key=value` overrides."""
    return load_config(VQATask(), config_file, list(overrides))


def vqa_module(config: Config, vocab_size: int, num_answers: int) -> VQAModule:
    """The VQA module of `config` as training builds it, for vocabularies of the given sizes."""
    vocabularies = VQAVocabularies(Vocabulary(f"word{i}" for i in range(vocab_size - 2)),
                                   [f"answer{i}" for i in range(num_answers)])
    return VQATask().build_module(config, vocabularies, fresh=False)


def build_vqa_model(name: str, options: object, vocab_size: int, num_answers: int) -> nn.Module:
    """The registered VQA model `name` built from its options dataclass instance."""
    return MODELS.get(name).builder(options, vocab_size=vocab_size, num_answers=num_answers)


@pytest.fixture(scope="session")
def shapes_root(tmp_path_factory) -> Path:
    """A small dataset in the easy-VQA layout: 60 train / 15 test images, 8 questions each."""
    return write_shapes_dataset(tmp_path_factory.mktemp("shapes"), train_images=60, test_images=15)


def run_cli(args: list[str], cwd: Path, check: bool = True, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m vlkit ARGS` in `cwd` with 1 torch thread (and `env` added to the environment); fail the
    test with its output on error."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", **(env or {})}
    result = subprocess.run([sys.executable, "-m", "vlkit", *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"vlkit {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr[-4000:]}")
    return result


def only_run_dir(root: Path) -> Path:
    """The single run directory under `root/vqa/`."""
    runs = [p for p in (root / "vqa").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]
