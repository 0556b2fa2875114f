"""Read the checkpoints of sgrvinod's "a-PyTorch-Tutorial-to-Image-Captioning" (Show, Attend and Tell) safely.

The tutorial's `save_checkpoint` (utils.py, called from train.py) passes `torch.save` a dict with
`epoch`, `epochs_since_improvement`, `bleu-4`, `encoder`, `decoder`, `encoder_optimizer` (None
unless the encoder is fine-tuned) and `decoder_optimizer` (both `torch.optim.Adam`). `encoder` and
`decoder` are whole pickled modules: `models.Encoder` (`resnet`: an `nn.Sequential` of a torchvision
ResNet-101's children without its average pool and classifier; `adaptive_pool`) and
`models.DecoderWithAttention` (`attention` = `models.Attention` with `encoder_att`, `decoder_att`,
`full_att`, `relu`, `softmax`; `embedding`, `dropout`, `decode_step` (an LSTMCell), `init_h`,
`init_c`, `f_beta`, `sigmoid`, `fc`). The tutorial targets PyTorch 0.4, whose `torch.save` wrote the
legacy (non-zip) format; files re-saved with PyTorch >= 1.6 are zip archives. Both are read.

The file is read by `vlkit.caption.restricted_unpickler.load_restricted`, which runs no code from
it and turns every pickled module into an inert record of its state (`PickledObject`); that state
is then walked the way `nn.Module.state_dict()` walks a module (`_parameters`, persistent
`_buffers`, `_modules`).

vlkit's `show_attend_tell` caption model uses the tutorial's submodule names (`encoder.resnet`,
`encoder.adaptive_pool`, `decoder.attention.encoder_att`, ..., `decoder.fc`), so the keys of
`TutorialCheckpoint.state_dict` load into it without renaming.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vlkit.caption.restricted_unpickler import PickledObject, load_restricted, pickled_class
from vlkit.core.errors import VlkitError

@dataclass(frozen=True)
class TutorialCheckpoint:
    """What a tutorial checkpoint holds, in the keys of `encoder.state_dict()` and `decoder.state_dict()`.

    `state_dict` maps `encoder.<path>` and `decoder.<path>` to detached tensors, in state-dict order.
    `encoded_image_size` is the adaptive pool's output size (an int when square, as the tutorial's
    14); None when the checkpoint holds state dicts rather than modules. `fine_tuned_encoder` comes
    from the pickled parameters' `requires_grad` (the tutorial's `fine_tune` sets it on ResNet
    layers 2-4), or, where the checkpoint holds detached state dicts, from `encoder_optimizer`
    being present. `encoder_backbone` is "resnet101" etc. when the block counts name one.
    """

    state_dict: dict[str, torch.Tensor]
    epoch: int | None
    epochs_since_improvement: int | None
    bleu4: float | None
    vocab_size: int
    embed_dim: int
    attention_dim: int
    decoder_dim: int
    encoder_dim: int
    encoded_image_size: int | tuple[int, int] | None
    encoder_backbone: str | None
    fine_tuned_encoder: bool
    has_encoder_optimizer: bool


_SIZES = {("BasicBlock", (2, 2, 2, 2)): "resnet18", ("BasicBlock", (3, 4, 6, 3)): "resnet34",
          ("Bottleneck", (3, 4, 6, 3)): "resnet50", ("Bottleneck", (3, 4, 23, 3)): "resnet101",
          ("Bottleneck", (3, 8, 36, 3)): "resnet152"}


def _state_of(obj: PickledObject, where: str, path: Path) -> dict:
    state = obj.pickled_state
    if not isinstance(state, dict) or not isinstance(state.get("_modules"), Mapping) \
            or not isinstance(state.get("_parameters"), Mapping):
        raise VlkitError(f"{path}: {where} ({obj.pickled_class}) is not a pickled torch module")
    return state


def _module_state_dict(obj: Any, prefix: str, where: str, path: Path, out: dict[str, torch.Tensor],
                       parameters: dict[str, torch.Tensor]) -> None:
    """`state_dict()` of a pickled module: parameters, persistent buffers, then submodules, recursively."""
    if not isinstance(obj, PickledObject):
        raise VlkitError(f"{path}: {where} is a {type(obj).__name__}, not a module")
    state = _state_of(obj, where, path)
    buffers = state.get("_buffers") or {}
    non_persistent = state.get("_non_persistent_buffers_set") or set()
    if not isinstance(buffers, Mapping) or not isinstance(non_persistent, (set, frozenset)):
        raise VlkitError(f"{path}: {where} ({obj.pickled_class}) has malformed buffers")
    for kind, tensors in (("parameter", state["_parameters"]), ("buffer", buffers)):
        for name, tensor in tensors.items():
            if tensor is None or (kind == "buffer" and name in non_persistent):
                continue
            if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
                raise VlkitError(f"{path}: {kind} {prefix}{name} of {where} is a {type(tensor).__name__}")
            out[prefix + name] = tensor.detach()
            if kind == "parameter":
                parameters[prefix + name] = tensor
    for name, child in state["_modules"].items():
        if child is not None:
            _module_state_dict(child, f"{prefix}{name}.", f"{where}.{name}", path, out, parameters)


def _submodule(obj: Any, *names: str) -> Any:
    for name in names:
        if not isinstance(obj, PickledObject) or not isinstance(obj.pickled_state, dict):
            return None
        obj = (obj.pickled_state.get("_modules") or {}).get(name)
    return obj


def _children(part: Any, state_dict: dict[str, torch.Tensor], root: str) -> list[str]:
    if isinstance(part, PickledObject) and isinstance(part.pickled_state, dict):
        return list(part.pickled_state.get("_modules") or {})
    return list(dict.fromkeys(k[len(root) + 1:].split(".")[0] for k in state_dict if k.startswith(root + ".")))


def _check_attention_decoder(decoder: Any, state_dict: dict[str, torch.Tensor], path: Path) -> None:
    children = _children(decoder, state_dict, "decoder")
    described = f"{pickled_class(decoder) or 'a state dict'} with submodules {', '.join(children) or 'none'}"
    if "attention" not in children:
        recurrent = "decode_step" in children or "lstm" in children or "rnn" in children
        guess = ("a decoder without attention (Show and Tell style: the image only sets the LSTM's first state)"
                 if recurrent else "not a captioning decoder vlkit knows")
        raise VlkitError(f"{path}: the decoder has no attention: it is {described}, which looks like {guess}; "
                         "vlkit imports only the tutorial's Show-Attend-Tell decoder (models.DecoderWithAttention)")
    expected = ["attention.encoder_att.weight", "attention.decoder_att.weight", "attention.full_att.weight",
                "embedding.weight", "decode_step.weight_ih", "decode_step.weight_hh", "init_h.weight",
                "init_c.weight", "f_beta.weight", "fc.weight"]
    missing = [k for k in expected if f"decoder.{k}" not in state_dict]
    if missing:
        attention = _children(_submodule(decoder, "attention"), state_dict, "decoder.attention")
        raise VlkitError(f"{path}: the decoder is {described} (attention: {', '.join(attention) or 'none'}), "
                         f"not the tutorial's DecoderWithAttention: it lacks {', '.join(missing)}")


def _encoder_backbone(state_dict: dict[str, torch.Tensor]) -> tuple[str | None, int | None]:
    """("resnet101", 2048) from the block counts of `encoder.resnet.4` .. `encoder.resnet.7` and the last BN."""
    blocks: dict[int, set[int]] = {}
    channels = None
    for key, value in state_dict.items():
        match = re.match(r"encoder\.resnet\.(\d+)\.(\d+)\.bn\d\.weight$", key)
        if match:
            blocks.setdefault(int(match[1]), set()).add(int(match[2]))
            channels = value.shape[0]
    kind = "Bottleneck" if any(k.startswith("encoder.resnet.4.0.conv3.") for k in state_dict) else "BasicBlock"
    counts = tuple(len(blocks[i]) for i in sorted(blocks))
    return _SIZES.get((kind, counts)), channels


def _pool_size(encoder: Any) -> int | tuple[int, int] | None:
    pool = _submodule(encoder, "adaptive_pool")
    if pool is None:
        return None
    size = pool.pickled_state.get("output_size") if isinstance(pool.pickled_state, dict) else None
    if type(size) is int:
        return size
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(type(s) is int for s in size):
        return size[0] if size[0] == size[1] else (size[0], size[1])
    return None


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return kind(value)


def read_tutorial_checkpoint(path: str | Path) -> TutorialCheckpoint:
    """Read a checkpoint that the captioning tutorial's train.py saved, without running code from it."""
    path = Path(path)
    saved = load_restricted(path)
    if not isinstance(saved, dict):
        what = pickled_class(saved) or type(saved).__name__
        raise VlkitError(f"{path} holds a {what}, not the captioning tutorial's checkpoint dict "
                         "(with 'encoder' and 'decoder')")
    missing = [k for k in ("encoder", "decoder") if k not in saved]
    if missing:
        keys = ", ".join(repr(k) for k in list(saved)[:12]) + (", ..." if len(saved) > 12 else "")
        raise VlkitError(f"{path} is not a captioning tutorial checkpoint: it has no {' or '.join(map(repr, missing))} "
                         f"entry; its keys are {keys or 'none'}")
    state_dict: dict[str, torch.Tensor] = {}
    parameters: dict[str, torch.Tensor] = {}
    for part in ("encoder", "decoder"):
        value = saved[part]
        if isinstance(value, PickledObject):
            _module_state_dict(value, f"{part}.", part, path, state_dict, parameters)
        elif isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in value.items()):
            # forks of the tutorial that save `encoder.state_dict()` (under DataParallel: `module.`)
            state_dict.update({f"{part}.{k.removeprefix('module.')}": v.detach() for k, v in value.items()})
        else:
            raise VlkitError(f"{path}: {part!r} is a {pickled_class(value) or type(value).__name__}, "
                             "neither a pickled module nor a state dict")
    _check_attention_decoder(saved["decoder"], state_dict, path)

    vocab_size, embed_dim = state_dict["decoder.embedding.weight"].shape
    attention_dim, encoder_dim = state_dict["decoder.attention.encoder_att.weight"].shape
    decoder_dim = state_dict["decoder.attention.decoder_att.weight"].shape[1]
    weight_ih = state_dict["decoder.decode_step.weight_ih"]
    if tuple(weight_ih.shape) != (4 * decoder_dim, embed_dim + encoder_dim):
        raise VlkitError(f"{path}: decoder.decode_step.weight_ih has shape {tuple(weight_ih.shape)}, expected "
                         f"{(4 * decoder_dim, embed_dim + encoder_dim)} from the attention and embedding sizes")
    backbone, channels = _encoder_backbone(state_dict)
    if channels is not None and channels != encoder_dim:
        raise VlkitError(f"{path}: the encoder gives {channels} channels but the decoder's attention expects "
                         f"{encoder_dim}")
    resnet_parameters = [p for k, p in parameters.items() if k.startswith("encoder.resnet.")]
    has_encoder_optimizer = saved.get("encoder_optimizer") is not None
    if resnet_parameters and all(isinstance(p, torch.nn.Parameter) for p in resnet_parameters):
        fine_tuned = any(p.requires_grad for p in resnet_parameters)
    else:  # detached state dicts keep no requires_grad
        fine_tuned = has_encoder_optimizer
    return TutorialCheckpoint(
        state_dict=state_dict, epoch=_number(saved.get("epoch"), int),
        epochs_since_improvement=_number(saved.get("epochs_since_improvement"), int),
        bleu4=_number(saved.get("bleu-4"), float), vocab_size=int(vocab_size), embed_dim=int(embed_dim),
        attention_dim=int(attention_dim), decoder_dim=int(decoder_dim), encoder_dim=int(encoder_dim),
        encoded_image_size=_pool_size(saved["encoder"]), encoder_backbone=backbone,
        fine_tuned_encoder=fine_tuned, has_encoder_optimizer=has_encoder_optimizer)
