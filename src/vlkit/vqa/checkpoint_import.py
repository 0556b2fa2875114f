"""`vlkit vqa import --from mcan-vqa|pytorch-vqa`: turn a reference checkpoint into a vlkit run directory.

pytorch-vqa saves `{"weights", "vocab": {"question", "answer"}, ...}` (`logs/<name>.pth`, keys under
`module.`); its token indices start at 1 with 0 for both padding and unknown words, so the
embedding rows are re-laid out for vlkit's PAD=0, UNK=1 (both copies of the reference's row 0).
vlkit's SAAA uses the reference's module names (verified: equal parameter count, strict load,
equal logits).

mcan-vqa saves `{"state_dict", "optimizer", "lr_base"}` (`ckpt_<version>/epoch<N>.pkl`); under
DataParallel the keys start with `module.`. vlkit's MCAN uses the reference's module names, so the
weights load one to one (verified against the reference `Net`: equal parameter count, strict
load, outputs equal within 1e-6). The question vocabulary is rebuilt the way mcan-vqa builds it:
MCAN tokens in order of first appearance over the train, val, test2015 and VG question files, PAD=0
and UNK=1; the answer list is mcan-vqa's `answer_dict.json` (`[ans_to_ix, ix_to_ans]`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from vlkit.core.config import Config
from vlkit.core.errors import VlkitError
from vlkit.core.imported_runs import check_new_run_dir, write_imported_run
from vlkit.text.vocabulary import Vocabulary
from vlkit.vqa.data.answer_lists import read_answer_dict
from vlkit.vqa.data.question_vocabularies import MCAN_VOCAB_SPLITS, question_texts, question_vocabulary
from vlkit.vqa.data.vocabularies import VQAVocabularies
from vlkit.vqa.task import VQATask


def _load(checkpoint: Path, key: str, what: str) -> dict:
    if not checkpoint.is_file():
        raise VlkitError(f"checkpoint not found: {checkpoint}")
    try:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as error:  # a pickle of anything else fails in several ways
        raise VlkitError(f"{checkpoint} is not a {what} checkpoint: {error}") from error
    if not isinstance(saved, dict) or key not in saved:
        raise VlkitError(f"{checkpoint} holds no {key!r} (expected a {what} checkpoint)")
    return saved


def _write_run(out: Path, config: Config, vocabularies: VQAVocabularies, state: dict, checkpoint: Path) -> Path:
    """Load `state` (reference names, `module.` stripped) into the configured model and write the run."""
    task = VQATask()
    module = task.build_module(config, vocabularies, fresh=False)
    name = config.model_entry.name
    try:
        result = module.model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shape mismatches
        raise VlkitError(f"{checkpoint} does not fit {name} with {len(vocabularies.questions)} words and "
                         f"{len(vocabularies.answers)} answers: {str(error)[:500]}") from error
    if result.missing_keys or result.unexpected_keys:
        raise VlkitError(f"{checkpoint} does not fit {name}: missing {result.missing_keys[:5]}, "
                         f"unexpected {result.unexpected_keys[:5]}")
    return write_imported_run(task, out, config, vocabularies, module, checkpoint)


def _check_target(config: Config, out: Path, prefix: str) -> None:
    if not config.model_entry.name.startswith(prefix):
        raise VlkitError(f"this checkpoint needs a {prefix} config, got model {config.model_entry.name!r}")
    check_new_run_dir(out)


def import_mcan(checkpoint: Path, config: Config, answer_dict: Path, out: Path) -> Path:
    """Write a run directory at `out` (which must not exist) holding the imported MCAN weights."""
    _check_target(config, out, "mcan")
    saved = _load(checkpoint, "state_dict", "mcan-vqa")
    state = {k.removeprefix("module."): v for k, v in saved["state_dict"].items()}
    vocab = question_vocabulary(question_texts(config.data.root, MCAN_VOCAB_SPLITS, config.data.version), "mcan")
    return _write_run(out, config, VQAVocabularies(vocab, read_answer_dict(answer_dict)), state, checkpoint)


def import_pytorch_vqa(checkpoint: Path, config: Config, out: Path) -> Path:
    """Write a run directory at `out` holding pytorch-vqa's SAAA weights, vocabulary and answers."""
    _check_target(config, out, "saaa")
    saved = _load(checkpoint, "weights", "pytorch-vqa")
    vocab_json = saved.get("vocab") or {}
    if not {"question", "answer"} <= set(vocab_json):
        raise VlkitError(f"{checkpoint} holds no 'vocab' with 'question' and 'answer' (pytorch-vqa's logs/<name>.pth)")
    words = sorted(vocab_json["question"], key=vocab_json["question"].get)  # indices 1..V
    answers = sorted(vocab_json["answer"], key=vocab_json["answer"].get)
    state = {k.removeprefix("module."): v for k, v in saved["weights"].items()}
    reference_rows = state["text.embedding.weight"]  # (V + 1, E): row 0 is padding and unknown words
    state["text.embedding.weight"] = torch.cat([reference_rows[:1], reference_rows[:1], reference_rows[1:]])
    vocab = Vocabulary(words, tokenizer="pytorch-vqa")
    return _write_run(out, config, VQAVocabularies(vocab, answers), state, checkpoint)
