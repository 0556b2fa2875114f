"""Benchmark the official VQA metric: vlkit's scorer against a straightforward per-question loop.

Both apply the same rules; the straightforward loop normalises every answer of every question
anew (as vqaEval.py does) and leaves one human answer out with list comprehensions, while vlkit
caches normalisation per unique string. The questions are generated: VQA-like answer strings with
case, punctuation, article and number-word variants, 10 human answers each.

Usage: python benchmarks/vqa_metric.py [--questions 214354] [--repeats 3] [--legacy]
(214,354 is the size of VQA v2 val2014.) Prints a Markdown report for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from vlkit.vqa import answers as rules
from vlkit.vqa.official_metric import HumanAnswers, accuracy_report
from vlkit.vqa.score import score_results
from vlkit.vqa.vqa_files import VQAAnnotation

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


def straightforward_accuracy(result: str, humans: HumanAnswers, legacy: bool) -> float:
    """The rules applied question by question, nothing cached, as the official loop runs."""
    records = [{"answer": text, "answer_id": answer_id, "answer_confidence": confidence}
               for text, answer_id, confidence in zip(humans.texts, humans.ids, humans.confidences)]
    if legacy:
        answer = rules.process_digits_articles(rules.process_punctuation(rules.clean_whitespace(result)))
        if len({r["answer"] for r in records}) > 1:
            for record in records:
                record["answer"] = rules.process_punctuation(record["answer"])
    else:
        for record in records:
            record["answer"] = rules.clean_whitespace(record["answer"])
        answer = rules.clean_whitespace(result)
        if len({r["answer"] for r in records}) > 1:
            for record in records:
                record["answer"] = rules.process_digits_articles(rules.process_punctuation(record["answer"]))
            answer = rules.process_digits_articles(rules.process_punctuation(answer))
    folds = []
    for record in records:
        others = [item for item in records if item != record]
        folds.append(min(1.0, len([item for item in others if item["answer"] == answer]) / 3))
    return sum(folds) / len(folds)


def straightforward_report(annotations: dict[int, VQAAnnotation], results: list[tuple[int, str]],
                           legacy: bool) -> dict:
    return accuracy_report([straightforward_accuracy(answer, annotations[qid].answers, legacy) for qid, answer in results],
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
    timings: dict[str, list[float]] = {"straightforward": [], "vlkit": []}
    reports = {}
    for _ in range(args.repeats):
        for name, scorer in (("straightforward", straightforward_report), ("vlkit", score_results)):
            clear_caches()  # every vlkit repeat starts cold
            start = time.perf_counter()
            reports[name] = scorer(annotations, results, args.legacy)
            timings[name].append(time.perf_counter() - start)
    if reports["straightforward"] != reports["vlkit"]:
        raise SystemExit(f"reports differ:\n{reports}")
    base, fast = statistics.median(timings["straightforward"]), statistics.median(timings["vlkit"])
    print(f"{args.questions} questions x 10 human answers, {'legacy' if args.legacy else 'current'} rules, "
          f"median of {args.repeats} cold runs; identical reports (overall {reports['vlkit']['overall']})\n")
    print("| scorer | median s | questions/s |\n| --- | ---: | ---: |")
    print(f"| straightforward per-question loop (baseline) | {base:.2f} | {args.questions / base:,.0f} |")
    print(f"| vlkit (cached normalisation) | {fast:.2f} | {args.questions / fast:,.0f} |")
    print(f"\nSpeed-up: **{base / fast:.1f}x**")


if __name__ == "__main__":
    main()
