"""Signals that ask training to stop or save, acted on between batches, where the state is whole.

A signal handler runs between two Python bytecodes of the main thread: raising there can cut a
checkpoint write, a log write or an optimizer step in half (and leave a lock held). These callbacks'
handlers only set a flag; the callback acts on it at the end of a batch, with every DDP process
agreeing on the batch.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any, Optional

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

from vlkit.core.errors import Interrupted

log = logging.getLogger("vlkit")


class SignalRequest(Callback):
    """Holds `signum`'s handler during fit (the one before is put back after); `requested` is set by the
    signal, and `agreed(trainer)` says whether any process of the run received it."""

    signum: signal.Signals

    def __init__(self) -> None:
        self.requested = False
        self.previous_handler: Any = None

    def on_fit_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous_handler = signal.signal(self.signum, self.on_signal)

    def on_fit_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._restore_handler()

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule, exception: BaseException) -> None:
        self._restore_handler()

    def _restore_handler(self) -> None:
        if self.previous_handler is not None:
            signal.signal(self.signum, self.previous_handler)
            self.previous_handler = None

    def on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        self.requested = True

    def agreed(self, trainer: pl.Trainer) -> bool:
        """Whether any process has the request (one collective call per batch under DDP)."""
        if trainer.world_size > 1:
            return bool(trainer.strategy.reduce_boolean_decision(self.requested, all=False))
        return self.requested


class StopOnCtrlC(SignalRequest):
    """Ctrl-C during fit stops training at the end of the current batch (training or validation), the way
    SIGTERM does; a second Ctrl-C stops at once."""

    signum = signal.SIGINT

    def on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("Ctrl-C: training stops after this batch (Ctrl-C again stops at once)")

    def _stop_if_requested(self, trainer: pl.Trainer) -> None:
        if self.agreed(trainer):
            raise Interrupted("Ctrl-C", 128 + signal.SIGINT)

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._stop_if_requested(trainer)

    def on_validation_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        self._stop_if_requested(trainer)
