"""`vlkit vqa import --from mcan-vqa`: turn a MILVLG/mcan-vqa checkpoint into a vlkit run directory.

mcan-vqa saves `{"state_dict", "optimizer", "lr_base"}` (`ckpt_<version>/epoch<N>.pkl`); under
DataParallel the keys start with `module.`. vlkit's MCAN uses the reference's module names, so the
weights load one to one (verified against the reference `Net`: equal parameter count, strict
load, outputs equal within 1e-6). The question vocabulary is rebuilt the way mcan-vqa builds it:
MCAN tokens in order of first appearance over the train, val, test2015 and VG question files, PAD=0
and UNK=1; the answer list is mcan-vqa's `answer_dict.json` (`[ans_to_ix, ix_to_ans]`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from vlkit.config import save_config
from vlkit.errors import VlkitError
from vlkit.runs import write_metadata
from vlkit.text import Vocabulary
from vlkit.vqa.module import VQAModule
from vlkit.vqa.splits import split_files
from vlkit.vqa.vqa_files import read_questions

MCAN_VOCAB_PARTS = ("train", "val", "test", "vg")


def mcan_question_vocab(root: Path, version: str = "v2") -> Vocabulary:
    """mcan-vqa's token vocabulary over the train, val, test2015 and VG question files of `root`."""
    texts = []
    for part in MCAN_VOCAB_PARTS:
        questions_path, _ = split_files(root, part, version)
        texts += [q.question for q in read_questions(questions_path).values()]
    return Vocabulary.in_first_appearance_order(texts, "mcan")


def read_answer_dict(path: Path) -> list[str]:
    """Answers in index order from mcan-vqa's answer_dict.json."""
    try:
        ans_to_ix, ix_to_ans = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise VlkitError(f"{path} is not mcan-vqa's answer_dict.json ([ans_to_ix, ix_to_ans]): {error}") from error
    answers = [ix_to_ans[str(i)] for i in range(len(ix_to_ans))]
    if any(ans_to_ix.get(a) != i for i, a in enumerate(answers)):
        raise VlkitError(f"{path}: ans_to_ix and ix_to_ans disagree")
    return answers


def import_mcan(checkpoint: Path, config: DictConfig, answer_dict: Path, out: Path) -> Path:
    """Write a run directory at `out` (which must not exist) holding the imported MCAN weights."""
    if not config.model.name.startswith("mcan"):
        raise VlkitError(f"--from mcan-vqa needs an MCAN config, got model {config.model.name!r}")
    if out.exists():
        raise VlkitError(f"{out} exists: a run directory is never overwritten")
    if not checkpoint.is_file():
        raise VlkitError(f"checkpoint not found: {checkpoint}")
    try:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as error:  # a pickle of anything else fails in several ways
        raise VlkitError(f"{checkpoint} is not a mcan-vqa checkpoint: {error}") from error
    if not isinstance(saved, dict) or "state_dict" not in saved:
        raise VlkitError(f"{checkpoint} holds no 'state_dict' (expected mcan-vqa's epoch<N>.pkl)")
    state = {k.removeprefix("module."): v for k, v in saved["state_dict"].items()}
    vocab = mcan_question_vocab(Path(config.data.root), config.data.version)
    answers = read_answer_dict(answer_dict)
    module = VQAModule(OmegaConf.to_container(config), vocab_size=len(vocab), num_answers=len(answers))
    try:
        result = module.model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shape mismatches
        raise VlkitError(f"{checkpoint} does not fit {config.model.name} with {len(vocab)} words and "
                         f"{len(answers)} answers: {str(error)[:500]}") from error
    if result.missing_keys or result.unexpected_keys:
        raise VlkitError(f"{checkpoint} does not fit {config.model.name} with {len(vocab)} words and "
                         f"{len(answers)} answers: missing {result.missing_keys[:5]}, unexpected "
                         f"{result.unexpected_keys[:5]}")
    out.mkdir(parents=True)
    save_config(config, out / "config.yaml")
    vocab.save(out / "vocab.json")
    (out / "answers.json").write_text(json.dumps(answers))
    torch.save({"state_dict": module.state_dict(), "imported_from": str(checkpoint)}, out / "best.ckpt")
    write_metadata(out, config.task, "imported", source=str(checkpoint))
    return out
