"""Checks of config values, called from the `__post_init__` of option dataclasses so that a bad value is
refused while the config is loaded, before any work starts. Each raises `InvalidValue` naming the key."""

from __future__ import annotations

from typing import Any, Collection

from vlkit.core.errors import InvalidValue


def _value(options: Any, name: str) -> Any:
    return getattr(options, name)


def check_positive_int(options: Any, *names: str, optional: bool = False) -> None:
    """Each named field is a whole number >= 1 (or None when `optional`)."""
    for name in names:
        value = _value(options, name)
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidValue(name, value, "a whole number >= 1" + (" or null" if optional else ""))


def check_non_negative(options: Any, *names: str) -> None:
    """Each named field is a number >= 0."""
    for name in names:
        value = _value(options, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise InvalidValue(name, value, "a number >= 0")


def check_positive(options: Any, *names: str, optional: bool = False) -> None:
    """Each named field is a number > 0 (or None when `optional`)."""
    for name in names:
        value = _value(options, name)
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise InvalidValue(name, value, "a number > 0" + (" or null" if optional else ""))


def check_fraction(options: Any, name: str, low_open: bool = True, high_open: bool = True) -> None:
    """The field is a number inside (0, 1), with either end included when it is not open."""
    value = _value(options, name)
    above = value > 0 if low_open else value >= 0
    below = value < 1 if high_open else value <= 1
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (above and below):
        raise InvalidValue(name, value, f"a number in {'(' if low_open else '['}0, 1{')' if high_open else ']'}")


def check_choice(options: Any, name: str, choices: Collection[Any]) -> None:
    """The field is one of `choices`."""
    value = _value(options, name)
    if value not in choices:
        raise InvalidValue(name, value, "one of " + ", ".join(map(str, choices)))


def check_positive_ints(options: Any, name: str) -> None:
    """The field is a non-empty list of whole numbers >= 1."""
    value = _value(options, name)
    if not value or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
        raise InvalidValue(name, value, "a non-empty list of whole numbers >= 1")
