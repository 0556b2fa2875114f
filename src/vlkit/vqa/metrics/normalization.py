"""The official VQA answer normalisation, shared by training targets and the metric.

Rules of GT-Vision-Lab/VQA `vqaEval.py` (processPunctuation, processDigitArticle), kept with
their quirks because scores must match the official evaluator number for number:

- punctuation: each mark of PUNCTUATION is deleted when it touches a space in the *original*
  text or when the text holds a digit-comma-digit ("1,000"), and replaced by a space otherwise;
- periods: the official pattern `(?!<=\\d)(\\.)(?!\\d)` was meant as a look-behind but is a
  look-ahead for the two characters "<=", so it deletes every "." that is not followed by a digit
  ("3.5" stays, "U.S.A." -> "USA"); `re.UNICODE` (= 32) is passed as the *count*, so at most 32
  periods go;
- words: lower-cased, split on whitespace, number words zero..ten (and "none") become digits,
  articles a/an/the are dropped, and contractions written without apostrophe get one back.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",",
               "?", "!")
NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
ARTICLES = frozenset({"a", "an", "the"})
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")  # sic, see the module docstring
_PERIOD_MAX_COUNT = int(re.UNICODE)  # sic: the official call passes re.UNICODE as `count`
_DIGIT_COMMA_DIGIT = re.compile(r"(\d)(,)(\d)")


@lru_cache(maxsize=1)
def contractions() -> dict[str, str]:
    """The official table of contractions written without apostrophes ("dont" -> "don't")."""
    text = resources.files("vlkit.vqa.metrics").joinpath("resources/vqa_contractions.json").read_text()
    return json.loads(text)


def clean_whitespace(text: str) -> str:
    """Newlines and tabs to spaces, then strip: applied to every answer before anything else."""
    return text.replace("\n", " ").replace("\t", " ").strip()


def process_punctuation(text: str) -> str:
    """The official punctuation rule (see the module docstring)."""
    remove_all = _DIGIT_COMMA_DIGIT.search(text) is not None
    out = text
    for mark in PUNCTUATION:
        if remove_all or mark + " " in text or " " + mark in text:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _PERIOD.sub("", out, count=_PERIOD_MAX_COUNT)


def process_digits_articles(text: str) -> str:
    """Lower-case words; number words to digits; articles dropped; contractions restored."""
    table = contractions()
    words = [NUMBER_WORDS.get(word, word) for word in text.lower().split()]
    return " ".join(table.get(word, word) for word in words if word not in ARTICLES)


@lru_cache(maxsize=1 << 20)
def normalize_answer(text: str) -> str:
    """Full normalisation of one answer string (cached per unique string)."""
    return process_digits_articles(process_punctuation(clean_whitespace(text)))


@lru_cache(maxsize=1 << 20)
def punctuation_only(text: str) -> str:
    """Whitespace + punctuation rule only: what the legacy metric applies to ground-truth answers."""
    return process_punctuation(text)
