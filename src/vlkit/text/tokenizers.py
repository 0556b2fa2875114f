"""Question tokenisers: vlkit's own word tokens and the exact rules of the reference VQA systems.

vlkit's own (`words`) keeps the letters of every script and their accents: the text is
NFKC-normalised (so "café" typed with a combining accent equals "café" typed as one character),
lower-cased, and split into runs of Unicode letters and digits. MCAN's and pytorch-vqa's keep their
reference behaviour exactly (they keep accents too, and split on spaces only, so a question in
Chinese, written without spaces, is one token there).
"""

from __future__ import annotations

import re
import unicodedata

MCAN_MAX_TOKENS = 14
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_MCAN_DROPPED = re.compile(r"[.,'!?\"()*#:;]")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens of a question; punctuation is dropped ("Is it red?" -> [is, it, red],
    "Quelle est la forme du café ?" -> [quelle, est, la, forme, du, café])."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def mcan_tokenize(question: str) -> list[str]:
    """MCAN's question tokens: lower-case, drop . , ' ! ? " ( ) * # : ;, turn - and / into spaces, split.

    MCAN keeps the first MCAN_MAX_TOKENS (14) tokens of each question.
    """
    return _MCAN_DROPPED.sub("", question.lower()).replace("-", " ").replace("/", " ").split()


def pytorch_vqa_tokenize(question: str) -> list[str]:
    """pytorch-vqa's question tokens: lower-case, drop the last character (the '?'), split on single spaces."""
    return question.lower()[:-1].split(" ")


TOKENIZERS = {"words": tokenize, "mcan": mcan_tokenize, "pytorch-vqa": pytorch_vqa_tokenize}
