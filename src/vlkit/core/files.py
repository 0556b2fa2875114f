"""Atomic file writes (a kill at any moment leaves either the old file or the new one, never half of one), and
reading the JSON manifest of a folder that vlkit wrote."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from vlkit.core.errors import VlkitError


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write; on success it replaces `path` in one rename.

    The temporary name keeps the suffix (`x.npy` -> `x.tmp.npy`), so writers that add a missing suffix
    (numpy's `np.save`) write exactly there. On an error the temporary file is removed and `path` is
    left as it was.
    """
    path = Path(path)
    temporary = path.with_name(f"{path.stem}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write `text` to `path` through a temporary file and a rename."""
    with replacing(path) as temporary:
        temporary.write_text(text, encoding=encoding)


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write `data` as indented JSON through a temporary file and a rename."""
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def read_folder_manifest(directory: str | Path, name: str, what: str, made_by: str) -> dict:
    """The JSON object in `directory/name`, the manifest of a `what` folder (e.g. "vlkit feature store") that
    `made_by` writes; a missing, unparsable or non-object manifest is a VlkitError saying so."""
    path = Path(directory) / name
    if not path.is_file():
        raise VlkitError(f"{directory} is not a {what}: {name} is missing ({made_by} makes one)")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as error:
        raise VlkitError(f"{path} is not valid JSON ({error}): the {what} is damaged") from error
    if not isinstance(manifest, dict):
        raise VlkitError(f"{path} is not the manifest of a {what}")
    return manifest
