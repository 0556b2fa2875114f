"""vlkit's cache folder: `$VLKIT_CACHE`, by default `~/.cache/vlkit`, one subfolder per kind of cached data."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """The cache subfolder of `kind` (e.g. "glove", "synthetic-captions"); not created here."""
    return Path(os.environ.get("VLKIT_CACHE", Path.home() / ".cache" / "vlkit")) / kind
