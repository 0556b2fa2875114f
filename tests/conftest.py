"""Shared fixtures: generated easy-VQA-format datasets and a helper to run the CLI as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vlkit.synth.shapes import write_shapes_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shapes_root(tmp_path_factory) -> Path:
    """A small dataset in the easy-VQA layout: 60 train / 15 test images, 8 questions each."""
    return write_shapes_dataset(tmp_path_factory.mktemp("shapes"), train_images=60, test_images=15)


def run_cli(args: list[str], cwd: Path, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m vlkit ARGS` in `cwd` with 1 torch thread; fail the test with its output on error."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
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
