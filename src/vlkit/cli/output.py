"""How commands print: one JSON object with --json, readable text otherwise."""

from __future__ import annotations

import json

import typer


def emit(result: dict, as_json: bool, text: str) -> None:
    """Print `result` as one JSON object (`--json`) or `text`, on stdout."""
    typer.echo(json.dumps(result) if as_json else text)
