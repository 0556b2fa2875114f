"""Reading what NJUPT-MCC/DualVGR-VideoQA saves: its checkpoints and its question/answer vocabulary JSON.

train.py `save_checkpoint` writes, at each best validation accuracy,
`torch.save({"epoch": int, "state_dict": model.state_dict(), "optimizer": Adam state_dict,
"model_kwargs": {"vision_dim", "module_dim", "word_dim", "num_of_nodes", "graph_module", "graph_layers"}})`
to `results/<exp_name>/ckpt/DualVGR<graph_layers><time>_model.pt`: tensors, numbers and strings only,
so `torch.load(weights_only=True)` reads it. The keys of `state_dict` start with `module.` when the
model was trained with `multi_gpus` under DataParallel. `unit_layers` is not in `model_kwargs`
(train.py never passes it, so the model has its default of 2 units; validate.py takes it from the
command line): it is the number of `visual_input_unit.queryAttn.<i>` entries.

preprocess/preprocess_questions.py (HCRN's) writes `data/<dataset>/<dataset>_vocab.json`:
`{"question_token_to_idx": {"<NULL>": 0, "<UNK>": 1, word: index, ...}, "answer_token_to_idx":
{"<UNK0>": 0, "<UNK1>": 1, answer: index, ...}, "question_answer_token_to_idx": {...}}`; questions are
padded with index 0.

The state-dict layout below is the repository's (model/models.py `DualVGR`, model/Preprocessing.py,
model/GraphNN.py `punishGAT`, model/utils.py, model/AnswerDecoder.py, model/fusions/fusions.py `MFB`).
"""

from __future__ import annotations

import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vlkit.core.errors import VlkitError
from vlkit.videoqa.models.dualvgr import DualVGROptions

Tensor = torch.Tensor

CHECKPOINT_KEYS = ("state_dict", "model_kwargs")  # of {"epoch", "state_dict", "optimizer", "model_kwargs"}
DATA_PARALLEL_PREFIX = "module."
# keys no other model of this family (HCRN, which saves the same dict layout) has
DUALVGR_MARKERS = ("visual_motion_input_unit.weight", "visual_input_unit.queryAttn.0.feat_enhance.weight",
                   "visual_input_unit.visualfusion.linear_out.weight")
UNIT = "visual_input_unit"
GAT_LISTS = ("appearance_GCN", "motion_GCN", "acGCN", "mcGCN")
OPTIONAL_KEYS = ("output_unit.classifier.3.num_batches_tracked",)  # absent from checkpoints of PyTorch < 0.4.1
_ENTRY = re.compile(r"^visual_input_unit\.(\w+)\.(\d+)\.")
_HEAD = re.compile(r"^visual_input_unit\.appearance_GCN\.0\.attention_(\d+)\.")


@dataclass(frozen=True)
class DualVGRSizes:
    """The sizes that fix a DualVGR state dict's keys and shapes."""

    vocab_size: int
    num_answers: int
    vision_dim: int  # appearance LSTM input and motion Linear input (one `vision_dim` in the repository)
    module_dim: int
    word_dim: int
    units: int  # DualVGR units (the repository's unit_layers)
    graph_layers: int  # GATs per unit in each of the four GAT lists
    gat_heads: int
    mfb_dim: int
    mfb_factor: int


def _shape(state: dict[str, Tensor], key: str, dims: int) -> tuple[int, ...]:
    if key not in state:
        raise VlkitError(f"the DualVGR state dict has no {key!r}")
    shape = tuple(state[key].shape)
    if len(shape) != dims:
        raise VlkitError(f"{key} has shape {shape}; expected {dims} dimensions")
    return shape


def _count_entries(state: dict[str, Tensor], module_list: str) -> int:
    indices = {int(m.group(2)) for key in state if (m := _ENTRY.match(key)) and m.group(1) == module_list}
    return max(indices) + 1 if indices else 0


def dualvgr_sizes(state: dict[str, Tensor]) -> DualVGRSizes:
    """The sizes a DualVGR state dict (repository key names, no `module.` prefix) was built with, from its shapes."""
    vocab_size, word_dim = _shape(state, "linguistic_input_unit.encoder_embed.weight", 2)
    module_dim, vision_dim = _shape(state, "visual_motion_input_unit.weight", 2)
    num_answers = _shape(state, "output_unit.classifier.5.weight", 2)[0]
    mfb_factor_dim = _shape(state, f"{UNIT}.visualfusion.linear0.weight", 2)[0]
    mfb_dim = _shape(state, f"{UNIT}.visualfusion.linear_out.weight", 2)[1]
    units = _count_entries(state, "queryAttn")
    gats = _count_entries(state, "appearance_GCN")
    heads = {int(m.group(1)) for key in state if (m := _HEAD.match(key))}
    if units < 1 or gats < 1 or not heads:
        raise VlkitError(f"the DualVGR state dict has {units} visual_input_unit.queryAttn entries, {gats} "
                         f"appearance_GCN entries and {len(heads)} GAT heads; expected at least one of each")
    if gats % units or mfb_factor_dim % mfb_dim:
        raise VlkitError(f"the DualVGR state dict has {gats} appearance_GCN entries for {units} units, and MFB "
                         f"sizes {mfb_factor_dim} / {mfb_dim}; expected a whole number of each")
    return DualVGRSizes(vocab_size, num_answers, vision_dim, module_dim, word_dim, units, gats // units,
                        max(heads) + 1, mfb_dim, mfb_factor_dim // mfb_dim)


def dualvgr_state_shapes(sizes: DualVGRSizes) -> dict[str, tuple[int, ...]]:
    """Every key of the repository's DualVGR state dict and its shape, for the given sizes."""
    d, shapes = sizes.module_dim, {}

    def linear(name: str, inputs: int, outputs: int, bias: bool = True) -> None:
        shapes[f"{name}.weight"] = (outputs, inputs)
        if bias:
            shapes[f"{name}.bias"] = (outputs,)

    def bidirectional_lstm(name: str, inputs: int) -> None:  # hidden module_dim // 2 per direction
        for direction in ("", "_reverse"):
            shapes[f"{name}.weight_ih_l0{direction}"] = (2 * d, inputs)
            shapes[f"{name}.weight_hh_l0{direction}"] = (2 * d, d // 2)
            shapes[f"{name}.bias_ih_l0{direction}"] = (2 * d,)
            shapes[f"{name}.bias_hh_l0{direction}"] = (2 * d,)

    linear("feature_aggregation.v_proj", d, d, bias=False)
    linear("feature_aggregation.attn", d, 1)
    shapes["linguistic_input_unit.encoder_embed.weight"] = (sizes.vocab_size, sizes.word_dim)
    bidirectional_lstm("linguistic_input_unit.concatRNN.rnn", sizes.word_dim)
    bidirectional_lstm("linguistic_input_unit.encoder", sizes.word_dim)
    bidirectional_lstm("visual_appearance_input_unit.encoder", sizes.vision_dim)
    linear("visual_motion_input_unit", sizes.vision_dim, d)
    for i in range(sizes.units):
        linear(f"{UNIT}.queryAttn.{i}.feat_enhance", d, d)
        linear(f"{UNIT}.queryAttn.{i}.fc", d, 1)
        for modality in ("appear", "motion"):
            linear(f"{UNIT}.queryPunish_{modality}.{i}.query_weight", sizes.word_dim, d)
        for view in ("appearance", "motion"):
            linear(f"{UNIT}.attention_{view}.{i}.project.0", d, d)
            linear(f"{UNIT}.attention_{view}.{i}.project.2", d, 1, bias=False)
    for gat_list in GAT_LISTS:
        for k in range(sizes.units * sizes.graph_layers):
            for head in range(sizes.gat_heads):
                linear(f"{UNIT}.{gat_list}.{k}.attention_{head}.W", d, d // sizes.gat_heads)
                linear(f"{UNIT}.{gat_list}.{k}.attention_{head}.a", 2 * (d // sizes.gat_heads), 1)
    linear(f"{UNIT}.visualfusion.linear0", d, sizes.mfb_dim * sizes.mfb_factor)
    linear(f"{UNIT}.visualfusion.linear1", d, sizes.mfb_dim * sizes.mfb_factor)
    linear(f"{UNIT}.visualfusion.linear_out", sizes.mfb_dim, d)
    linear("output_unit.question_proj", d, d)
    linear("output_unit.classifier.1", 2 * d, d)
    for name in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"output_unit.classifier.3.{name}"] = (d,)
    shapes["output_unit.classifier.3.num_batches_tracked"] = ()
    linear("output_unit.classifier.5", d, sizes.num_answers)
    return shapes


def _listed(keys: list[str]) -> str:
    return f"{len(keys)}: {keys[:4]}{' ...' if len(keys) > 4 else ''}"


def check_dualvgr_state(state: dict[str, Tensor], source: str) -> None:
    """Refuse a state dict whose keys or shapes are not the repository's DualVGR layout, naming the differences."""
    if not any(marker in state for marker in DUALVGR_MARKERS):
        raise VlkitError(f"{source} is not a DualVGR checkpoint: its state dict has none of {list(DUALVGR_MARKERS)} "
                         f"(its keys start {sorted(state)[:3]})")
    try:
        expected = dualvgr_state_shapes(dualvgr_sizes(state))
    except VlkitError as error:
        raise VlkitError(f"{source}: {error}") from None
    missing = [key for key in expected if key not in state and key not in OPTIONAL_KEYS]
    unexpected = [key for key in state if key not in expected]
    if missing or unexpected:
        raise VlkitError(f"{source} does not have DualVGR's parameters: missing {_listed(missing)}; "
                         f"unexpected {_listed(unexpected)}")
    wrong = [f"{key} {tuple(state[key].shape)} (expected {shape})" for key, shape in expected.items()
             if key in state and tuple(state[key].shape) != shape]
    if wrong:
        raise VlkitError(f"{source} has DualVGR parameters of inconsistent shapes: {_listed(wrong)}")


def _load_checkpoint(path: Path) -> Any:
    if not path.is_file():
        raise VlkitError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise VlkitError(f"{path} holds pickled Python objects that a DualVGR train.py checkpoint does not "
                         f"(only tensors, numbers and strings are read): {str(error).splitlines()[0][:200]}"
                         ) from None
    except Exception as error:  # torch reports a truncated zip or pickle in several ways
        raise VlkitError(f"{path} is truncated or not a PyTorch checkpoint ({type(error).__name__}: "
                         f"{str(error)[:200]})") from None


def read_dualvgr_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The state dict (repository key names, `module.` removed, checked) and `model_kwargs` of a train.py checkpoint.

    A BatchNorm `num_batches_tracked` that PyTorch < 0.4.1 did not save is added as 0 (it is never read in eval).

    Raises VlkitError for a missing, truncated or non-PyTorch file, a dict without "state_dict" and
    "model_kwargs", a state dict of another model, or missing, unexpected or misshapen parameters."""
    path = Path(path)
    saved = _load_checkpoint(path)
    if not isinstance(saved, dict) or not all(key in saved for key in CHECKPOINT_KEYS):
        found = sorted(map(str, saved))[:8] if isinstance(saved, dict) else type(saved).__name__
        raise VlkitError(f"{path} is not a DualVGR train.py checkpoint: expected a dict with {list(CHECKPOINT_KEYS)} "
                         f"(and 'epoch', 'optimizer'); found {found}")
    state, model_kwargs = saved["state_dict"], saved["model_kwargs"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise VlkitError(f"{path}: 'state_dict' is not a dict of tensors")
    if not isinstance(model_kwargs, dict):
        raise VlkitError(f"{path}: 'model_kwargs' is a {type(model_kwargs).__name__}, expected a dict")
    state = {key.removeprefix(DATA_PARALLEL_PREFIX): value for key, value in state.items()}
    check_dualvgr_state(state, str(path))
    for key in OPTIONAL_KEYS:
        state.setdefault(key, torch.tensor(0, dtype=torch.int64))  # so that a strict load_state_dict takes it
    return state, dict(model_kwargs)


def _check_kwarg(model_kwargs: dict[str, Any], key: str, inferred: Any) -> None:
    if key in model_kwargs and model_kwargs[key] != inferred:
        raise VlkitError(f"the checkpoint's model_kwargs say {key}={model_kwargs[key]!r} but its parameters "
                         f"have {inferred!r}")


def dualvgr_options_from(model_kwargs: dict[str, Any], state: dict[str, Tensor]) -> dict[str, Any]:
    """The `DualVGROptions` field values of a checkpoint: sizes from the tensor shapes, checked against model_kwargs.

    Raises VlkitError when model_kwargs contradict the shapes, when the repository built the model with
    another graph module than 'GAT' or with graph_layers != 1 (its GAT lists are then indexed i + j,
    which vlkit's DualVGR does not reproduce)."""
    sizes = dualvgr_sizes(state)
    for key, inferred in (("module_dim", sizes.module_dim), ("word_dim", sizes.word_dim),
                          ("vision_dim", sizes.vision_dim), ("graph_layers", sizes.graph_layers)):
        _check_kwarg(model_kwargs, key, inferred)
    if model_kwargs.get("graph_module", "GAT") != "GAT":
        raise VlkitError(f"the checkpoint's model_kwargs say graph_module={model_kwargs['graph_module']!r}; "
                         "DualVGR's graph units are the 'GAT' ones")
    if sizes.graph_layers != 1:
        raise VlkitError(f"the checkpoint has graph_layers={sizes.graph_layers}; vlkit's DualVGR has one GAT per "
                         "unit and list (graph_layers=1, the repository's recipes)")
    appearance_inputs = _shape(state, "visual_appearance_input_unit.encoder.weight_ih_l0", 2)[1]
    values = {"appearance_dim": appearance_inputs, "motion_dim": sizes.vision_dim, "module_dim": sizes.module_dim,
              "word_dim": sizes.word_dim, "units": sizes.units, "gat_heads": sizes.gat_heads,
              "mfb_dim": sizes.mfb_dim, "mfb_factor": sizes.mfb_factor}
    DualVGROptions(**values)  # the options' own checks (even module_dim, divisible by the heads)
    return values


def dualvgr_num_clips(model_kwargs: dict[str, Any]) -> int | None:
    """The clips per video the checkpoint was trained on (`num_of_nodes`: 8 for MSVD-QA, 16 for MSRVTT-QA), or None."""
    clips = model_kwargs.get("num_of_nodes")
    if clips is None:
        return None
    if isinstance(clips, bool) or not isinstance(clips, int) or clips < 1:
        raise VlkitError(f"the checkpoint's model_kwargs say num_of_nodes={clips!r}; expected a positive integer")
    return clips


def _index_order(table: Any, key: str, path: Path, first: tuple[str, str]) -> list[str]:
    if not isinstance(table, dict) or not table:
        raise VlkitError(f"{path}: {key!r} must be a non-empty object of token -> index")
    if not all(isinstance(token, str) and type(index) is int for token, index in table.items()):
        raise VlkitError(f"{path}: {key!r} must map strings to integer indices")
    tokens = sorted(table, key=table.get)
    if sorted(table.values()) != list(range(len(table))):
        raise VlkitError(f"{path}: the indices of {key!r} must be 0..{len(table) - 1}, each once")
    if tuple(tokens[:2]) != first:
        raise VlkitError(f"{path}: {key!r} must start with {first[0]!r} = 0 and {first[1]!r} = 1 (the preprocessing "
                         f"of HCRN/DualVGR); found {tokens[:2]}")
    return tokens


def read_dualvgr_vocab(path: str | Path) -> tuple[list[str], list[str]]:
    """The question words and the answers of `<dataset>_vocab.json`, each in index order (list[i] has index i).

    The words start with "<NULL>" (0, padding) and "<UNK>" (1); the answers with "<UNK0>" and "<UNK1>"."""
    path = Path(path)
    if not path.is_file():
        raise VlkitError(f"vocabulary file not found: {path}")
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VlkitError(f"{path} is not a JSON file: {error}") from None
    keys = ("question_token_to_idx", "answer_token_to_idx")
    if not isinstance(vocab, dict) or not all(key in vocab for key in keys):
        found = sorted(vocab)[:6] if isinstance(vocab, dict) else type(vocab).__name__
        raise VlkitError(f"{path} is not a DualVGR/HCRN vocabulary: expected an object with {list(keys)} "
                         f"(preprocess_questions.py's <dataset>_vocab.json); found {found}")
    words = _index_order(vocab["question_token_to_idx"], "question_token_to_idx", path, ("<NULL>", "<UNK>"))
    answers = _index_order(vocab["answer_token_to_idx"], "answer_token_to_idx", path, ("<UNK0>", "<UNK1>"))
    return words, answers


def check_vocab_fits(state: dict[str, Tensor], question_words: list[str], answers: list[str]) -> None:
    """Refuse a vocabulary whose sizes differ from the checkpoint's word embedding and answer classifier."""
    sizes = dualvgr_sizes(state)
    if (len(question_words), len(answers)) != (sizes.vocab_size, sizes.num_answers):
        raise VlkitError(f"the vocabulary has {len(question_words)} question words and {len(answers)} answers but "
                         f"the checkpoint has {sizes.vocab_size} embedding rows and {sizes.num_answers} answer "
                         "classes: use the <dataset>_vocab.json the checkpoint was trained with")
