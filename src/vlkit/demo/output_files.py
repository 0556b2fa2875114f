"""Pictures the demo sends back, written as PNG files the page can fetch.

Gradio saves an array output by rewriting one file named after its content, so two requests that give the same
picture at the same moment (two visitors clicking the same example) could send a half-written file. Handing
Gradio a finished file instead is safe: it copies files into its cache atomically. Files here are named by their
content, written under a temporary name and renamed into place, and removed once older than `keep_seconds`
(Gradio has its copy by then), so the folder does not grow with the number of requests.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


class OutputFiles:
    """A folder of the demo's output pictures."""

    def __init__(self, folder: Path, keep_seconds: float = 300.0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.keep_seconds = keep_seconds

    def png(self, picture: np.ndarray) -> str:
        """The path of a PNG of `picture` (H, W, 3) uint8."""
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="PNG")
        data = buffer.getvalue()
        path = self.folder / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
        if not path.exists():
            handle, staging = tempfile.mkstemp(dir=self.folder, prefix=".writing-")
            with os.fdopen(handle, "wb") as staged:
                staged.write(data)
            os.replace(staging, path)
        os.utime(path)
        self._remove_old()
        return str(path)

    def _remove_old(self) -> None:
        """Remove the pictures (and abandoned partial writes) last used more than keep_seconds ago."""
        oldest = time.time() - self.keep_seconds
        for path in self.folder.iterdir():
            try:
                if path.stat().st_mtime < oldest:
                    path.unlink()
            except FileNotFoundError:  # removed by a request running beside this one
                continue
