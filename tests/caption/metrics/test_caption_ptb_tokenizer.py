"""The pure-Python PTB tokenizer gives the tokens of pycocoevalcap's PTBTokenizer (Stanford CoreNLP 3.4.1 jar)."""

from pathlib import Path

import pytest

from vlkit.caption.metrics.java import java_problem
from vlkit.caption.metrics.ptb_tokenizer import ptb_tokenize_lines, ptb_tokens

# (caption, the jar's kept tokens joined by spaces), written from one run of pycocoevalcap's PTBTokenizer
JAR_TOKENS = [
    ("I don't know.", "i do n't know"),
    ("DON'T", "do n't"),
    ("can't won't cannot", "ca n't wo n't can not"),
    ("The man's dog", "the man 's dog"),
    ("the boys' bikes", "the boys bikes"),
    ("it's 3.5 a.m.", "it 's 3.5 a.m."),
    ("at 10 p.m. in the U.S.", "at 10 p.m. in the u.s."),
    ("a well-known 3-year-old", "a well-known 3-year-old"),
    ("1,000 people", "1,000 people"),
    ('a "quoted" word', "a quoted word"),
    ("'single' quotes", "single quotes"),
    ("(parentheses) and [brackets] {braces}", "-lrb- parentheses -rrb- and -lsb- brackets -rsb- -lcb- braces -rcb-"),
    ("a, b; c: d", "a b c d"),
    ("Mr. Smith and Dr. Who on St. Mark's", "mr. smith and dr. who on st. mark 's"),
    ("gonna wanna", "gon na wan na"),
    ("etc. vs. e.g.", "etc. vs. e.g."),
    ("a cat!!", "a cat !!"),
    ("what?!", "what ?!"),
    ("wait...", "wait"),
    ("a -- b - c", "a b c"),
    ("$5.00 and 50%", "$ 5.00 and 50 %"),
    ("rock 'n' roll at 5 o'clock", "rock 'n' roll at 5 o'clock"),
    ("y'all", "y' all"),
    ("A. The end", "a the end"),
    ("the end., then", "the end. then"),
    ("fig. 3 no. 7 no. the", "fig. 3 no. 7 no the"),
    ("1/2 and/or 12/25/2014", "1/2 and/or 12/25/2014"),
    ("\u201ccurly\u201d \u2018quotes\u2019 don\u2019t", "curly quotes do n't"),
    ("3 1/2 cups", "3\u00a01/2 cups"),
    (":) :(", ":-rrb- :-lrb-"),
    ("AT&T r&b", "at&t r & b"),
    ("x-ray t-shirt", "x-ray t-shirt"),
    ("5:30", "5:30"),
]
CORPUS = Path(__file__).with_name("caption_corpus.txt").read_text(encoding="utf-8").splitlines()
needs_java = pytest.mark.skipif(java_problem() is not None, reason=f"no Java: {java_problem()}")


@pytest.mark.parametrize("caption, expected", JAR_TOKENS)
def test_python_tokens_equal_the_recorded_jar_tokens(caption, expected):
    assert " ".join(ptb_tokens(caption)) == expected


def jar_tokens(captions: list[str]) -> list[str]:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tokenized = PTBTokenizer().tokenize({k: [{"caption": c}] for k, c in enumerate(captions)})
    return [tokenized[k][0] for k in range(len(captions))]


@needs_java
def test_python_tokens_equal_the_jar_on_a_caption_corpus():
    captions = CORPUS + [caption for caption, _ in JAR_TOKENS]
    assert [" ".join(tokens) for tokens in ptb_tokenize_lines(captions)] == jar_tokens(captions)


@needs_java
def test_recorded_tokens_are_the_jar_tokens_of_this_machine():
    assert jar_tokens([caption for caption, _ in JAR_TOKENS]) == [expected for _, expected in JAR_TOKENS]


def test_the_context_of_the_next_line_counts_as_for_the_jar():
    # "fig." keeps its period before a number, also when the number starts the next caption
    assert ptb_tokenize_lines(["a fig.", "3 cats"]) == [["a", "fig."], ["3", "cats"]]
    assert ptb_tokenize_lines(["a fig.", "the cats"]) == [["a", "fig"], ["the", "cats"]]


def test_a_line_break_inside_a_caption_reads_as_a_space():
    # as "A. The end" (the jar's tokens above): the line break must not end the caption early
    assert ptb_tokenize_lines(["A.\rThe end", "a cat\u2028on a mat"]) == [["a", "the", "end"],
                                                                    ["a", "cat", "on", "a", "mat"]]


@needs_java
def test_a_line_break_inside_a_caption_does_not_shift_the_jar_lines():
    from vlkit.caption.metrics.scorers import tokenize

    references = {1: ["a dog\ron grass", "a cat\u2028on a mat"], 2: ["a bird"]}
    gts, res, used = tokenize(references, {1: "a\x0bdog", 2: "a bird"}, tokenizer="jar")
    assert used == "ptb-jar"
    assert gts == {1: ["a dog on grass", "a cat on a mat"], 2: ["a bird"]} and res == {1: ["a dog"], 2: ["a bird"]}
