"""Shared fixtures and helpers: generated easy-VQA-format datasets, VQA configs and models, running the CLI
(`run_cli` in a new process, `invoke_cli` in this one)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import signal
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch
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


@pytest.fixture(scope="session")
def demo_runs(tmp_path_factory) -> list:
    """One tiny trained run per task (tests/demo/demo_runs.py), each loaded once for the demo (DemoRun list in the
    order vqa, caption, videoqa)."""
    from demo_runs import train_caption_run, train_videoqa_run, train_vqa_run

    from vlkit.demo.runs import open_demo_runs

    root = tmp_path_factory.mktemp("demo-runs")
    with _process_state_restored():
        os.environ["VLKIT_CACHE"] = str(root / "cache")
        directories = [train(root) for train in (train_vqa_run, train_caption_run, train_videoqa_run)]
    return open_demo_runs([str(d) for d in directories], device="cpu")


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


def invoke_cli(args: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None,
               hidden_modules: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`vlkit ARGS` run in this process as `vlkit.cli.main` runs it (a VlkitError is one `error:` line and status
    2), from `cwd`, with `env` added to the environment and `hidden_modules` made unimportable; the result of
    `run_cli` without starting Python, torch and Lightning again. An uncaught exception is a traceback on stderr
    and status 1, as in a new process. Everything the command changes in this process (working directory,
    environment, sys.argv, logging, signal handlers, torch threads, random states) is restored afterwards."""
    from vlkit.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with _process_state_restored(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        os.environ.update(env or {})
        for name in hidden_modules:
            sys.modules[name] = None  # `import name` raises ImportError, as for a package that is not installed
        os.chdir(cwd)
        sys.argv = [str(Path(main.__code__.co_filename).with_name("__main__.py")), *args]
        try:
            main()
            returncode = 0
        except SystemExit as exit_:
            returncode = 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 1
            if returncode == 1 and not isinstance(exit_.code, int):
                print(exit_.code, file=sys.stderr)
        except Exception:  # noqa: BLE001 - a new process would print it and exit with status 1
            traceback.print_exc(file=sys.stderr)
            returncode = 1
    result = subprocess.CompletedProcess(["vlkit", *args], returncode, stdout.getvalue(), stderr.getvalue())
    if check and result.returncode != 0:
        pytest.fail(f"vlkit {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr[-4000:]}")
    return result


@contextlib.contextmanager
def _process_state_restored() -> Iterator[None]:
    """Put back, on leaving, the process-wide state a vlkit command changes."""
    cwd, environ, argv, modules = os.getcwd(), dict(os.environ), sys.argv, dict(sys.modules)
    logger = logging.getLogger("vlkit")
    handlers, level = list(logger.handlers), logger.level
    signals = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)}
    threads, matmul = torch.get_num_threads(), torch.get_float32_matmul_precision()
    rng = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # run_cli's PYTHONWARNINGS=ignore
            yield
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environ)
        sys.argv = argv
        for name in [name for name, module in sys.modules.items() if module is None and name not in modules]:
            del sys.modules[name]
        for name, module in modules.items():
            if sys.modules.get(name) is None and module is not None:
                sys.modules[name] = module
        logger.handlers[:] = handlers
        logger.setLevel(level)
        for signum, handler in signals.items():
            signal.signal(signum, handler)
        torch.set_num_threads(threads)
        torch.set_float32_matmul_precision(matmul)
        random.setstate(rng[0])
        np.random.set_state(rng[1])
        torch.set_rng_state(rng[2])


def only_run_dir(root: Path) -> Path:
    """The single run directory under `root/vqa/`."""
    runs = [p for p in (root / "vqa").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]
