"""Overfitting on a run's curves: the validation metric getting worse for several epochs in a row while the
training loss keeps falling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

EPOCHS_IN_A_ROW = 3


@dataclass(frozen=True)
class OverfittingSpan:
    """Each epoch after `first` up to `last` (epoch numbers as recorded) had a worse validation metric than the
    epoch before it and a lower training loss: `first` is the epoch the metric began to worsen from."""

    first: int
    last: int


def find_overfitting(epochs: list[int], val: list[Optional[float]], train_loss: list[Optional[float]],
                     mode: str = "max", in_a_row: int = EPOCHS_IN_A_ROW) -> Optional[OverfittingSpan]:
    """The last span of at least `in_a_row` consecutive epochs whose validation metric worsened (fell for
    mode "max", rose for "min") while the training loss fell, each against the previous epoch; None if none.

    `epochs`, `val` and `train_loss` are parallel lists (one entry per recorded epoch; None: not logged).
    """
    found: Optional[OverfittingSpan] = None
    streak = 0
    for i in range(1, len(epochs)):
        pair = (val[i - 1], val[i], train_loss[i - 1], train_loss[i])
        if None in pair:
            streak = 0
            continue
        worse = val[i] < val[i - 1] if mode == "max" else val[i] > val[i - 1]
        streak = streak + 1 if worse and train_loss[i] < train_loss[i - 1] else 0
        if streak >= in_a_row:
            found = OverfittingSpan(epochs[i - streak], epochs[i])
    return found
