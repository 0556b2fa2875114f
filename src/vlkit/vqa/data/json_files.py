"""Reading large JSON files fast: one parse in C (msgspec), typed when the file has the expected shape.

The official VQA annotation files are up to ~180 MB with ~2M human answers; Python's json module
and per-object checks in Python take most of a scoring run's time on them. A typed decode checks
the types and required fields in the same C pass; a file that does not fit goes the slow way, where
the checks name what was expected and what was found.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import msgspec

from vlkit.core.errors import VlkitError


def read_bytes(path: str | Path, what: str) -> bytes:
    """The bytes of a file that must exist; the error names the file and what it should be."""
    path = Path(path)
    if not path.is_file():
        raise VlkitError(f"{what} file not found: {path}")
    return path.read_bytes()


def decode(raw: bytes, path: str | Path, what: str) -> Any:
    """Plain JSON values of `raw`; invalid JSON or text that is not UTF-8 is an error naming the file."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as error:
        reason = "is not UTF-8 text" if "utf-8" in str(error).lower() else "is not valid JSON"
        raise VlkitError(f"{what} file {path} {reason}: {error}") from error


def load_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file, naming it and what it should be in every error."""
    return decode(read_bytes(path, what), path, what)


def decode_typed(raw: bytes, decoder: msgspec.json.Decoder) -> Optional[Any]:
    """The typed value of `raw`, or None when the file does not have the decoder's shape exactly."""
    try:
        return decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while millions of small objects are made: it would rescan them
    again and again (that doubles the time of reading a val2014 annotations file)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
