"""Whether Java can run: pycocoevalcap's PTB tokenizer, METEOR and SPICE are jars."""

from __future__ import annotations

import functools
import shutil
import subprocess
from typing import Optional


@functools.lru_cache(maxsize=1)
def java_problem() -> Optional[str]:
    """None when `java -version` runs; otherwise why Java cannot be used (checked once per process)."""
    java = shutil.which("java")
    if java is None:
        return "`java` is not on PATH"
    try:
        subprocess.run([java, "-version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        return f"`java -version` failed: {error}"
    return None
