"""`vlkit videoqa import --from dualvgr`: a DualVGR-VideoQA checkpoint and its vocabulary as a vlkit run directory.

The checkpoint holds only tensors, numbers and strings, so it is read with `torch.load(weights_only=True)`
(`checkpoint_import.read_dualvgr_checkpoint`); its tensor shapes set the `dualvgr` options, and vlkit's
`dualvgr` uses the repository's parameter names, so the weights load one to one (strictly). The question
words and answers come from the repository's vocabulary JSON in index order (`<NULL>`/`<UNK>` are vlkit's
PAD/UNK rows 0 and 1; `<UNK0>`/`<UNK1>` its two unknown answer classes). The run reads clip features
(`data.dataset: clip_features`) with the clip count the checkpoint was trained on (8 for MSVD-QA, 16 for
MSRVTT-QA); give the stores when importing or when evaluating (`data.annotations=... data.appearance=...
data.motion=...`).
"""

from __future__ import annotations

from pathlib import Path

from vlkit.core.config import load_config
from vlkit.core.imported_runs import check_new_run_dir, write_imported_run
from vlkit.text.vocabulary import Vocabulary
from vlkit.videoqa.checkpoint_import import (
    check_vocab_fits,
    dualvgr_num_clips,
    dualvgr_options_from,
    read_dualvgr_checkpoint,
    read_dualvgr_vocab,
)
from vlkit.videoqa.data.answer_vocabulary import AnswerVocabulary
from vlkit.videoqa.run_files import VideoQAVocabularies
from vlkit.videoqa.task import VideoQATask

REFERENCE_FRAMES_PER_CLIP = 16  # HCRN/DualVGR appearance features: 16 frames per clip


def import_dualvgr_run(checkpoint: Path, vocab_path: Path, out: Path, overrides: list[str] | None = None) -> Path:
    """Write a run directory at `out` (which must not exist) from DualVGR's checkpoint and vocabulary JSON.

    `overrides` (`key=value`) set what the checkpoint does not record, e.g. data.annotations or data.appearance.
    """
    check_new_run_dir(out)
    state, model_kwargs = read_dualvgr_checkpoint(checkpoint)
    words, answers = read_dualvgr_vocab(vocab_path)
    check_vocab_fits(state, words, answers)
    options = dualvgr_options_from(model_kwargs, state)
    settings = ["model.name=dualvgr", *(f"model.{key}={value}" for key, value in options.items()),
                "data.dataset=clip_features", f"run.name={out.name}", f"run.root={out.parent}"]
    task = VideoQATask()
    config = load_config(task, None, settings + list(overrides or []))
    clips = dualvgr_num_clips(model_kwargs) or 8
    vocabularies = VideoQAVocabularies(Vocabulary(words[2:], "words"), AnswerVocabulary(answers),
                                       {"kind": "features", "clip_shape": [clips, REFERENCE_FRAMES_PER_CLIP]})
    module = task.build_module(config, vocabularies, fresh=False)
    module.model.load_state_dict(state, strict=True)
    return write_imported_run(task, out, config, vocabularies, module, checkpoint)
