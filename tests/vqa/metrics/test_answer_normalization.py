"""Official answer normalisation, checked case by case against the rules of vqaEval.py."""

import pytest

from vlkit.vqa.metrics.normalization import normalize_answer, process_punctuation, punctuation_only


@pytest.mark.parametrize("raw, expected", [
    ("1,000", "1000"),            # digit-comma-digit: every mark is deleted, not spaced
    ("3.5", "3.5"),               # a period before a digit stays
    ("U.S.A.", "usa"),            # periods before letters and at the end go
    ("5.a", "5a"),                # the pattern is a look-ahead: a period after a digit still goes
    ("Two dogs", "2 dogs"),       # number words
    ("none", "0"),
    ("ten", "10"),
    ("eleven", "eleven"),         # only zero..ten
    ("a dog", "dog"),             # articles
    ("The Dog", "dog"),
    ("an apple", "apple"),
    ("dont", "don't"),            # contractions get their apostrophe back
    ("isnt", "isn't"),
    ("yes!", "yes"),              # a mark not touching a space becomes a space
    ("left / right", "left right"),  # a mark touching a space is deleted
    ("black-and-white", "black and white"),
    ("  yes\n", "yes"),           # newlines/tabs to spaces, then strip
    ("red\tblue", "red blue"),
    ("it's", "it's"),             # apostrophes and colons are not in the official list
    ("10:30", "10:30"),
])
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


def test_period_count_quirk_removes_at_most_32():
    assert process_punctuation("." * 33) == "."
    assert process_punctuation("." * 32) == ""


def test_comma_rule_looks_at_the_original_text():
    # ", " and " (" touch spaces -> deleted; ")" touches none -> becomes a space
    assert process_punctuation("a, b (x)") == "a b x "
    # a digit-comma-digit anywhere deletes every mark
    assert process_punctuation("(1,5)") == "15"


def test_punctuation_only_keeps_case_numbers_and_articles():
    assert punctuation_only("The Two?") == "The Two "
