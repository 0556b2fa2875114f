"""Checkpoints shaped like those of sgrvinod's "a-PyTorch-Tutorial-to-Image-Captioning" (Show, Attend and Tell).

The tutorial's `save_checkpoint` pickles a dict holding whole modules and optimizers:
`{"epoch", "epochs_since_improvement", "bleu-4", "encoder", "decoder", "encoder_optimizer",
"decoder_optimizer"}`, where `encoder` is its `models.Encoder` (a ResNet without its pooling and
classifier, then an adaptive average pool) and `decoder` its `models.DecoderWithAttention`. Loading
such a pickle needs the tutorial's `models.py` to be importable, so this helper writes a small
stand-in `models.py` (same class and attribute names, small sizes, a torchvision ResNet with
`weights=None`) into a temporary directory, imports it as the top-level module `models`, saves the
checkpoint with `torch.save` and then removes the module from `sys.modules` and `sys.path`: a
reader cannot import it afterwards.

`torch04=True` writes what PyTorch 0.4 (the tutorial's version) wrote: the legacy non-zip format,
parameters pickled as `torch.nn.parameter.Parameter(tensor, requires_grad)` and every module holding
a `_backend` pickled as `torch.nn.backends.thnn._get_thnn_function_backend()`.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import textwrap
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

_MODELS_SOURCE = textwrap.dedent('''
    """A small version of the captioning tutorial's models: same class and attribute names."""
    import torch
    import torchvision
    from torch import nn


    class Encoder(nn.Module):
        def __init__(self, encoded_image_size, backbone, nonpersistent_buffer=False):
            super().__init__()
            self.enc_image_size = encoded_image_size
            if backbone == "bottleneck_tiny":  # ResNet-101's block type with one block per stage
                cnn = torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [1, 1, 1, 1])
            else:
                cnn = getattr(torchvision.models, backbone)(weights=None)
            self.resnet = nn.Sequential(*list(cnn.children())[:-2])  # drop avgpool and fc
            self.adaptive_pool = nn.AdaptiveAvgPool2d((encoded_image_size, encoded_image_size))
            if nonpersistent_buffer:
                self.register_buffer("pixel_scale", torch.ones(3), persistent=False)
            self.fine_tune(True)

        def fine_tune(self, fine_tune):
            for p in self.resnet.parameters():
                p.requires_grad = False
            for block in list(self.resnet.children())[5:]:  # layer2 .. layer4
                for p in block.parameters():
                    p.requires_grad = fine_tune

        def forward(self, images):
            return self.adaptive_pool(self.resnet(images)).permute(0, 2, 3, 1)


    class Attention(nn.Module):
        def __init__(self, encoder_dim, decoder_dim, attention_dim):
            super().__init__()
            self.encoder_att = nn.Linear(encoder_dim, attention_dim)
            self.decoder_att = nn.Linear(decoder_dim, attention_dim)
            self.full_att = nn.Linear(attention_dim, 1)
            self.relu = nn.ReLU()
            self.softmax = nn.Softmax(dim=1)


    class DecoderWithAttention(nn.Module):
        def __init__(self, attention_dim, embed_dim, decoder_dim, vocab_size, encoder_dim, dropout=0.5):
            super().__init__()
            self.encoder_dim, self.attention_dim, self.embed_dim = encoder_dim, attention_dim, embed_dim
            self.decoder_dim, self.vocab_size = decoder_dim, vocab_size
            self.attention = Attention(encoder_dim, decoder_dim, attention_dim)
            self.embedding = nn.Embedding(vocab_size, embed_dim)
            self.dropout = nn.Dropout(p=dropout)
            self.decode_step = nn.LSTMCell(embed_dim + encoder_dim, decoder_dim, bias=True)
            self.init_h = nn.Linear(encoder_dim, decoder_dim)
            self.init_c = nn.Linear(encoder_dim, decoder_dim)
            self.f_beta = nn.Linear(decoder_dim, encoder_dim)
            self.sigmoid = nn.Sigmoid()
            self.fc = nn.Linear(decoder_dim, vocab_size)


    class DecoderWithoutAttention(nn.Module):
        """A Show-and-Tell style decoder: the image feeds the initial state only."""

        def __init__(self, attention_dim, embed_dim, decoder_dim, vocab_size, encoder_dim, dropout=0.5):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_dim)
            self.dropout = nn.Dropout(p=dropout)
            self.decode_step = nn.LSTMCell(embed_dim, decoder_dim, bias=True)
            self.init_h = nn.Linear(encoder_dim, decoder_dim)
            self.init_c = nn.Linear(encoder_dim, decoder_dim)
            self.fc = nn.Linear(decoder_dim, vocab_size)
''')

ENCODER_DIMS = {"bottleneck_tiny": 2048, "resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048, "resnet152": 2048}


@dataclass
class TutorialModules:
    """The real modules and optimizers that went into a fixture checkpoint (classes from the removed module)."""

    encoder: torch.nn.Module
    decoder: torch.nn.Module
    encoder_optimizer: torch.optim.Optimizer | None
    decoder_optimizer: torch.optim.Optimizer
    checkpoint: dict[str, Any]


@contextmanager
def _tutorial_models(directory: Path):
    """Import the small `models.py` as top-level `models`; afterwards nothing can import it again."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "models.py").write_text(_MODELS_SOURCE)
    previous = sys.modules.pop("models", None)
    sys.path.insert(0, str(directory))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module("models")
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop("models", None)
        sys.path_importer_cache.pop(str(directory), None)
        if previous is not None:
            sys.modules["models"] = previous
        (directory / "models.py").unlink()


@contextmanager
def _one_thread():
    """Tiny tensors: intra-op threads only add overhead (several times the work on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class _Torch04Backend:
    """Pickles the way PyTorch 0.4's THNN backend object did."""

    def __reduce__(self):
        from torch.nn.backends.thnn import _get_thnn_function_backend

        return (_get_thnn_function_backend, ())


def _parameter_reduce_04(self, proto):
    return (torch.nn.Parameter, (self.data, self.requires_grad))


@contextmanager
def _torch04_pickling(modules: list[torch.nn.Module]):
    original = torch.nn.Parameter.__reduce_ex__
    torch.nn.Parameter.__reduce_ex__ = _parameter_reduce_04
    for root in modules:
        for module in root.modules():
            module.__dict__["_backend"] = _Torch04Backend()
    try:
        yield
    finally:
        torch.nn.Parameter.__reduce_ex__ = original
        for root in modules:
            for module in root.modules():
                module.__dict__.pop("_backend", None)


def write_tutorial_checkpoint(
    path: str | Path,
    encoder_backbone: str = "resnet18",
    vocab_size: int = 23,
    embed_dim: int = 16,
    attention_dim: int = 12,
    decoder_dim: int = 20,
    encoded_image_size: int = 3,
    fine_tune_encoder: bool = True,
    epoch: int = 7,
    epochs_since_improvement: int = 2,
    bleu4: float = 0.2468,
    attention: bool = True,
    legacy_format: bool = False,
    torch04: bool = False,
    nonpersistent_buffer: bool = False,
    extra_entries: Callable[[TutorialModules], dict[str, Any]] | None = None,
    seed: int = 0,
) -> TutorialModules:
    """Write a tutorial-style checkpoint at `path` and return the real modules it was made from.

    `encoder_backbone` is a torchvision ResNet name or "bottleneck_tiny" (ResNet-101's Bottleneck
    blocks, one per stage: 2048 channels at a fraction of the size).

    The encoder sees a tiny batch in training mode, so that BatchNorm's running statistics and
    `num_batches_tracked` differ from their initial values, and both optimizers take one Adam step
    (on a cheap loss), so that they hold state as after the tutorial's first epoch. `extra_entries` adds keys to the saved dict.
    """
    path = Path(path)
    torch.manual_seed(seed)
    source_dir = Path(tempfile.mkdtemp(prefix="tutorial_src_", dir=path.parent))
    with _one_thread(), _tutorial_models(source_dir) as models:
        encoder_dim = ENCODER_DIMS[encoder_backbone]
        encoder = models.Encoder(encoded_image_size, encoder_backbone, nonpersistent_buffer)
        encoder.fine_tune(fine_tune_encoder)
        decoder_class = models.DecoderWithAttention if attention else models.DecoderWithoutAttention
        decoder = decoder_class(attention_dim, embed_dim, decoder_dim, vocab_size, encoder_dim)
        decoder_optimizer = torch.optim.Adam([p for p in decoder.parameters() if p.requires_grad], lr=4e-4, foreach=True)
        encoder_optimizer = (torch.optim.Adam([p for p in encoder.parameters() if p.requires_grad], lr=1e-4, foreach=True)
                             if fine_tune_encoder else None)
        encoder.train()
        with torch.no_grad():  # moves BatchNorm's running statistics
            encoder(torch.randn(2, 3, 32, 32))
        trainable = [p for p in [*encoder.parameters(), *decoder.parameters()] if p.requires_grad]
        sum((p ** 2).sum() for p in trainable).backward()  # gradients for every trainable parameter
        decoder_optimizer.step()
        if encoder_optimizer is not None:
            encoder_optimizer.step()
        checkpoint = {"epoch": epoch, "epochs_since_improvement": epochs_since_improvement, "bleu-4": bleu4,
                      "encoder": encoder, "decoder": decoder, "encoder_optimizer": encoder_optimizer,
                      "decoder_optimizer": decoder_optimizer}
        made = TutorialModules(encoder, decoder, encoder_optimizer, decoder_optimizer, checkpoint)
        if extra_entries is not None:
            checkpoint.update(extra_entries(made))
        if torch04:
            with _torch04_pickling([encoder, decoder]):
                torch.save(checkpoint, path, _use_new_zipfile_serialization=False)
        else:
            torch.save(checkpoint, path, _use_new_zipfile_serialization=not legacy_format)
    source_dir.rmdir()
    return made
