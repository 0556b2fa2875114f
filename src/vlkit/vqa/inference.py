"""Loading a trained VQA run (self-contained: config, vocabulary, answers, checkpoint) and batch inference."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from vlkit.errors import VlkitError
from vlkit.text import Vocabulary
from vlkit.vqa.datamodules import VQADataModule
from vlkit.vqa.module import VQAModule


@dataclass
class TrainedVQA:
    """Everything needed to answer questions with a finished run, on the CPU, without its dataset."""

    module: VQAModule
    config: DictConfig
    vocab: Vocabulary
    answers: list[str]


def save_vocabularies(run_dir: Path, vocab: Vocabulary, answers: list[str]) -> None:
    """Write the run's question vocabulary (`vocab.json`) and answer list (`answers.json`)."""
    vocab.save(run_dir / "vocab.json")
    (run_dir / "answers.json").write_text(json.dumps(answers))


def load_vocabularies(run_dir: Path) -> tuple[Vocabulary, list[str]]:
    """The run's question vocabulary and answer list, as `save_vocabularies` wrote them."""
    return Vocabulary.load(run_dir / "vocab.json"), json.loads((run_dir / "answers.json").read_text())


def load_trained(run_dir: Path, checkpoint: str = "best", device: str = "cpu") -> TrainedVQA:
    """Rebuild the model of `run_dir` from `<checkpoint>.ckpt`, `config.yaml`, `vocab.json`, `answers.json`."""
    for name in ("config.yaml", "vocab.json", "answers.json", f"{checkpoint}.ckpt"):
        if not (run_dir / name).is_file():
            raise VlkitError(f"{run_dir} is not a finished VQA run: {name} is missing")
    config = OmegaConf.load(run_dir / "config.yaml")
    vocab, answers = load_vocabularies(run_dir)
    state = torch.load(run_dir / f"{checkpoint}.ckpt", map_location="cpu", weights_only=True)
    module = VQAModule(OmegaConf.to_container(config), vocab_size=len(vocab), num_answers=len(answers))
    module.load_state_dict(state["state_dict"])
    module.to(device).eval()
    return TrainedVQA(module, config, vocab, answers)


@torch.no_grad()
def predict_split(module: VQAModule, datamodule: VQADataModule, split: str) -> torch.Tensor:
    """Answer every question of a split in one process; predicted answer index (N,) int64 in split order."""
    loader = datamodule.loader(split)
    predicted = torch.full((len(datamodule.split(split)),), -1, dtype=torch.long)
    module.eval()
    for batch in tqdm(loader, desc=f"answering {split}", unit="batch", leave=False):
        batch = {k: v.to(module.device) for k, v in batch.items()}
        predicted[batch["index"].cpu()] = module(batch)["logits"].argmax(dim=1).cpu()
    return predicted
