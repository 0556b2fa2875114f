"""How commands print: results on stdout (one JSON object with --json, readable text otherwise), the rest on stderr."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Iterator

import typer


@contextlib.contextmanager
def progress_on_stderr() -> Iterator[None]:
    """While a command works, whatever would reach stdout (progress bars, library messages) goes to stderr,
    so that stdout holds only the result `emit` prints afterwards."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def emit(result: dict, as_json: bool, text: str) -> None:
    """Print `result` as one JSON object (`--json`) or `text`, on stdout."""
    typer.echo(json.dumps(result) if as_json else text)
