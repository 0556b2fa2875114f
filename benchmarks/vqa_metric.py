"""Benchmark the official VQA metric: vlkit's scorer against a straightforward per-question loop.

All three apply the same rules and must give the same report (the script stops otherwise). Two
per-question baselines normalise every answer of every question anew and leave one human answer
out with list comprehensions, as vqaEval.py does: "literal" is an independent transcription of the
official rules (its own punctuation list, number words, articles and whitespace cleaning, the
digit-comma-digit pattern tested once per punctuation mark as the official loop is written; only
the official contractions table is read from vlkit's copy of it), so it also checks vlkit's
normalisation; "per-question" calls vlkit's rule functions (one pattern test per string). vlkit's
scorer normalises each distinct string once and vectorises the counting. The questions are
generated: VQA-like answer strings with case, punctuation, article and number-word variants, 10
human answers each.

Usage: python benchmarks/vqa_metric.py [--questions 214354] [--repeats 3] [--legacy]
(214,354 is the size of VQA v2 val2014.) Prints a Markdown report for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from dataclasses import dataclass
from importlib import resources
from typing import Callable

from vlkit.vqa.data.official_files import VQAAnnotation
from vlkit.vqa.metrics import normalization as rules
from vlkit.vqa.metrics.official import HumanAnswers, accuracy_report
from vlkit.vqa.metrics.score_files import score_results

BASE = ["yes", "no", "2", "two", "red", "white", "black and white", "tennis", "1,000", "3.5", "U.S.A.", "dont know",
        "the dog", "a cat", "left", "right", "frisbee", "pizza", "10:30", "black-and-white", "none", "skateboarding",
        "baseball bat", "kitchen", "Blue", "Yes", "grass", "giraffe", "1", "3", "surfing", "snow", "wood", "man"]
ANSWER_TYPES = {"yes": "yes/no", "no": "yes/no", "Yes": "yes/no"}


def variant(answer: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.1:
        return answer.capitalize() + "."
    if roll < 0.15:
        return " " + answer + "\n"
    if roll < 0.2:
        return answer + "!"
    return answer


def generate(count: int, seed: int) -> tuple[dict[int, VQAAnnotation], list[tuple[int, str]]]:
    rng = random.Random(seed)
    annotations, results = {}, []
    for qid in range(count):
        majority = rng.choice(BASE)
        texts = tuple(variant(majority if rng.random() < 0.7 else rng.choice(BASE), rng) for _ in range(10))
        humans = HumanAnswers(texts, tuple(range(1, 11)), ("yes",) * 10)
        annotations[qid] = VQAAnnotation(qid, qid, rng.choice(["what is", "how many", "is the", "what color"]),
                                         ANSWER_TYPES.get(majority, "other"), majority, humans)
        results.append((qid, variant(rng.choice([majority, rng.choice(BASE)]), rng)))
    return annotations, results


LITERAL_MARKS = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?",
                 "!"]
LITERAL_NUMBERS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                   "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
LITERAL_CONTRACTIONS = json.loads(
    resources.files("vlkit.vqa.metrics").joinpath("resources/vqa_contractions.json").read_text())


def literal_clean(text: str) -> str:
    """Newlines and tabs to spaces, then strip, as the official loop does to every answer first."""
    return text.replace("\n", " ").replace("\t", " ").strip()


def literal_punctuation(text: str) -> str:
    """The punctuation rule written as the official loop is: the pattern is tested for every mark."""
    out = text
    for mark in LITERAL_MARKS:
        if mark + " " in text or " " + mark in text or re.search(r"(\d)(,)(\d)", text) is not None:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return re.sub(r"(?!<=\d)(\.)(?!\d)", "", out, count=re.UNICODE)


def literal_digits_articles(text: str) -> str:
    """Lower-case words, number words to digits, articles dropped, contractions restored, as the official loop."""
    words = []
    for word in text.lower().split():
        word = LITERAL_NUMBERS.get(word, word)
        if word not in ("a", "an", "the"):
            words.append(word)
    return " ".join(LITERAL_CONTRACTIONS.get(word, word) for word in words)


@dataclass(frozen=True)
class AnswerRules:
    """The answer processing a per-question scorer applies."""

    clean: Callable[[str], str]
    punctuation: Callable[[str], str]
    digits_articles: Callable[[str], str]


LITERAL = AnswerRules(literal_clean, literal_punctuation, literal_digits_articles)
VLKIT_FUNCTIONS = AnswerRules(rules.clean_whitespace, rules.process_punctuation, rules.process_digits_articles)


def straightforward_accuracy(result: str, humans: HumanAnswers, legacy: bool, answer_rules: AnswerRules) -> float:
    """The rules applied question by question, nothing cached, as the official loop runs."""
    clean, punctuation, digits_articles = answer_rules.clean, answer_rules.punctuation, answer_rules.digits_articles
    records = [{"answer": text, "answer_id": answer_id, "answer_confidence": confidence}
               for text, answer_id, confidence in zip(humans.texts, humans.ids, humans.confidences)]
    if legacy:
        answer = digits_articles(punctuation(clean(result)))
        if len({r["answer"] for r in records}) > 1:
            for record in records:
                record["answer"] = punctuation(record["answer"])
    else:
        for record in records:
            record["answer"] = clean(record["answer"])
        answer = clean(result)
        if len({r["answer"] for r in records}) > 1:
            for record in records:
                record["answer"] = digits_articles(punctuation(record["answer"]))
            answer = digits_articles(punctuation(answer))
    folds = []
    for record in records:
        others = [item for item in records if item != record]
        folds.append(min(1.0, len([item for item in others if item["answer"] == answer]) / 3))
    return sum(folds) / len(folds)


def straightforward_report(annotations: dict[int, VQAAnnotation], results: list[tuple[int, str]],
                           legacy: bool, answer_rules: AnswerRules) -> dict:
    return accuracy_report([straightforward_accuracy(answer, annotations[qid].answers, legacy, answer_rules)
                            for qid, answer in results],
                           [annotations[qid].answer_type for qid, _ in results],
                           [annotations[qid].question_type for qid, _ in results])


def clear_caches() -> None:
    rules.normalize_answer.cache_clear()
    rules.punctuation_only.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=214354)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--legacy", action="store_true")
    args = parser.parse_args()
    annotations, results = generate(args.questions, seed=0)
    scorers = {
        "literal per-question loop (baseline)":
            lambda: straightforward_report(annotations, results, args.legacy, LITERAL),
        "per-question loop with vlkit's rule functions":
            lambda: straightforward_report(annotations, results, args.legacy, VLKIT_FUNCTIONS),
        "vlkit (distinct strings once, vectorised)": lambda: score_results(annotations, results, args.legacy),
    }
    timings: dict[str, list[float]] = {name: [] for name in scorers}
    reports = {}
    for _ in range(args.repeats):
        for name, scorer in scorers.items():
            clear_caches()  # every repeat starts cold
            start = time.perf_counter()
            reports[name] = scorer()
            timings[name].append(time.perf_counter() - start)
    if len({json.dumps(report, sort_keys=True) for report in reports.values()}) != 1:
        raise SystemExit(f"reports differ:\n{reports}")
    medians = {name: statistics.median(values) for name, values in timings.items()}
    fast = medians["vlkit (distinct strings once, vectorised)"]
    print(f"{args.questions} questions x 10 human answers, {'legacy' if args.legacy else 'current'} rules, "
          f"median of {args.repeats} cold runs; identical reports (overall {next(iter(reports.values()))['overall']})\n")
    print("| scorer | median s | questions/s | vlkit speed-up |\n| --- | ---: | ---: | ---: |")
    for name, median in medians.items():
        print(f"| {name} | {median:.2f} | {args.questions / median:,.0f} | {median / fast:.1f}x |")


if __name__ == "__main__":
    main()
