"""Question tokenisers: vlkit's own word tokens and the exact rules of the reference VQA systems."""

from __future__ import annotations

import re

MCAN_MAX_TOKENS = 14
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_MCAN_DROPPED = re.compile(r"[.,'!?\"()*#:;]")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens of a question; punctuation is dropped ("Is it red?" -> [is, it, red])."""
    return _WORD.findall(text.lower())


def mcan_tokenize(question: str) -> list[str]:
    """MCAN's question tokens: lower-case, drop . , ' ! ? " ( ) * # : ;, turn - and / into spaces, split.

    MCAN keeps the first MCAN_MAX_TOKENS (14) tokens of each question.
    """
    return _MCAN_DROPPED.sub("", question.lower()).replace("-", " ").replace("/", " ").split()


def pytorch_vqa_tokenize(question: str) -> list[str]:
    """pytorch-vqa's question tokens: lower-case, drop the last character (the '?'), split on single spaces."""
    return question.lower()[:-1].split(" ")


TOKENIZERS = {"words": tokenize, "mcan": mcan_tokenize, "pytorch-vqa": pytorch_vqa_tokenize}
