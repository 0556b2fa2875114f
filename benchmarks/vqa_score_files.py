"""Benchmark `vlkit vqa score` as a whole process against a plain per-question evaluator run as a whole process.

Writes val2014-sized official files (generated questions, annotations with 10 human answers each, a
results file; `benchmarks/vqa_metric.py` makes the answers) to a temporary folder, then times, as
separate processes alternating round by round:
- baseline: this script with `--plain literal Q A R`: the files read with Python's json module and
  scored question by question with an independent transcription of the official rules
  (vqa_metric.py's literal scorer), as vqaEval.py does;
- a stronger baseline: `--plain cached Q A R`, the same loop calling vlkit's per-question
  `question_accuracy`, whose answer normalisation is cached (each distinct string is processed once);
- vlkit: `python -m vlkit vqa score --questions Q --annotations A --results R --json`.
Both reports must be identical (the script stops otherwise).

Usage: python benchmarks/vqa_score_files.py [--questions 214354] [--rounds 3] [--legacy]
Prints a Markdown report for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vqa_metric import LITERAL, generate, straightforward_accuracy  # noqa: E402

from vlkit.vqa.metrics.official import HumanAnswers, accuracy_report, question_accuracy  # noqa: E402


def write_files(folder: Path, count: int) -> tuple[Path, Path, Path]:
    """Official questions, annotations and results files of `count` generated questions."""
    annotations, results = generate(count, seed=0)
    questions = [{"image_id": a.image_id, "question": "what is it?", "question_id": qid}
                 for qid, a in annotations.items()]
    records = [{"question_id": qid, "image_id": a.image_id, "question_type": a.question_type,
                "answer_type": a.answer_type, "multiple_choice_answer": a.multiple_choice_answer,
                "answers": [{"answer": text, "answer_confidence": "yes", "answer_id": i + 1}
                            for i, text in enumerate(a.answers.texts)]}
               for qid, a in annotations.items()]
    paths = folder / "questions.json", folder / "annotations.json", folder / "results.json"
    paths[0].write_text(json.dumps({"info": {}, "task_type": "Open-Ended", "data_type": "mscoco",
                                    "data_subtype": "val2014", "license": {}, "questions": questions}))
    paths[1].write_text(json.dumps({"info": {}, "data_type": "mscoco", "data_subtype": "val2014", "license": {},
                                    "annotations": records}))
    paths[2].write_text(json.dumps([{"question_id": qid, "answer": answer} for qid, answer in results]))
    return paths


def plain_score(scorer: str, questions: Path, annotations: Path, results: Path, legacy: bool) -> dict:
    """A baseline process: Python's json module, then the official rules question by question, by the literal
    transcription (`scorer` "literal") or by vlkit's cached `question_accuracy` ("cached")."""
    json.loads(questions.read_text())
    by_id = {a["question_id"]: a for a in json.loads(annotations.read_text())["annotations"]}
    rows = json.loads(results.read_text())
    accuracies, answer_types, question_types = [], [], []
    for row in rows:
        annotation = by_id[row["question_id"]]
        humans = HumanAnswers(tuple(h["answer"] for h in annotation["answers"]),
                              tuple(h["answer_id"] for h in annotation["answers"]),
                              tuple(h["answer_confidence"] for h in annotation["answers"]))
        if scorer == "literal":
            accuracies.append(straightforward_accuracy(row["answer"], humans, legacy, LITERAL))
        else:
            accuracies.append(question_accuracy(row["answer"], humans, legacy))
        answer_types.append(annotation["answer_type"])
        question_types.append(annotation["question_type"])
    return accuracy_report(accuracies, answer_types, question_types)


def timed(command: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return seconds, json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=214354)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--legacy", action="store_true")
    parser.add_argument("--plain", nargs=4, metavar=("SCORER", "Q", "A", "R"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        print(json.dumps(plain_score(args.plain[0], *map(Path, args.plain[1:]), args.legacy)))
        return
    with tempfile.TemporaryDirectory() as folder:
        files = write_files(Path(folder), args.questions)
        size_mb = files[1].stat().st_size / 2 ** 20
        legacy = ["--legacy"] if args.legacy else []
        commands = {
            "plain per-question evaluator, literal official rules (baseline)":
                [sys.executable, __file__, "--plain", "literal", *map(str, files), *legacy],
            "plain per-question evaluator, cached normalisation":
                [sys.executable, __file__, "--plain", "cached", *map(str, files), *legacy],
            "vlkit vqa score": [sys.executable, "-m", "vlkit", "vqa", "score", "--questions", str(files[0]),
                                "--annotations", str(files[1]), "--results", str(files[2]), *legacy, "--json"],
        }
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        reports = {}
        for _ in range(args.rounds):
            for name, command in commands.items():
                elapsed, reports[name] = timed(command)
                seconds[name].append(elapsed)
    if len({json.dumps(report, sort_keys=True) for report in reports.values()}) != 1:
        sys.exit(f"the reports differ:\n{reports}")
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    vlkit = medians["vlkit vqa score"]
    print(f"{args.questions} questions, annotations file {size_mb:.0f} MB, {'legacy' if args.legacy else 'current'} "
          f"rules, whole processes, median of {args.rounds} alternating rounds; identical reports "
          f"(overall {next(iter(reports.values()))['overall']})\n")
    print("| process | seconds (every round) | median s | vlkit speed-up |\n| --- | --- | ---: | ---: |")
    for name, values in seconds.items():
        print(f"| {name} | {', '.join(f'{v:.1f}' for v in values)} | {medians[name]:.1f} | "
              f"{medians[name] / vlkit:.1f}x |")


if __name__ == "__main__":
    main()
