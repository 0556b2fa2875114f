"""`vlkit caption score`: numbers end to end, Java and no-Java output, and every refused input (one `error:` line,
exit status 2, before any scoring)."""

import json
import os
import re
import sys
from pathlib import Path

import pytest

from caption_metric_fixtures import PREDICTIONS, REFERENCES, coco_references, coco_results, write_caption_files
from conftest import invoke_cli
from test_caption_scores import COCO_EVAL_CAP, needs_java
from vlkit.caption.metrics.java import java_problem
from vlkit.cli import main

NO_JAVA = {"PATH": os.path.dirname(sys.executable)}  # a PATH that holds python but no `java`


def score_without_java(args: list[str], cwd: Path):
    """`vlkit ARGS` in this process with NO_JAVA's PATH; the process's cached answer to "can Java run?" is
    forgotten before and after, as a new process would not have it."""
    java_problem.cache_clear()
    try:
        return invoke_cli(args, cwd=cwd, env=NO_JAVA)
    finally:
        java_problem.cache_clear()


@needs_java
def test_score_json_equals_coco_eval_cap_with_meteor_and_reports_spice_unavailable(tmp_path):
    references, predictions = write_caption_files(tmp_path)
    result = invoke_cli(["caption", "score", "--references", str(references), "--predictions", str(predictions),
                         "--spice", "--json"], cwd=tmp_path)
    report = json.loads(result.stdout)
    assert {key: report[key] for key in COCO_EVAL_CAP} == pytest.approx(COCO_EVAL_CAP, rel=1e-12)
    assert report["tokenizer"] == "ptb-jar" and report["images"] == 3
    assert 0 < report["tutorial_bleu4"] <= 1
    # this machine has no Stanford CoreNLP 3.6.0 jars (SPICE downloads them; no network here)
    assert report["SPICE"] is None and "stanford-corenlp-3.6.0" in report["unavailable"]["SPICE"]
    assert "1 of 4 reference images have no prediction" in result.stderr


def test_without_java_meteor_is_unavailable_in_text_and_json(tmp_path):
    references, predictions = write_caption_files(tmp_path)
    args = ["caption", "score", "--references", str(references), "--predictions", str(predictions)]
    text = score_without_java(args, tmp_path).stdout
    assert "METEOR          unavailable (no Java)" in text.splitlines()
    assert f"CIDEr           {COCO_EVAL_CAP['CIDEr']:.4f}" in text.splitlines()
    report = json.loads(score_without_java([*args, "--json"], tmp_path).stdout)
    assert report["METEOR"] is None and report["unavailable"]["METEOR"].startswith("no Java")
    assert report["tokenizer"] == "python"
    assert report["Bleu_4"] == pytest.approx(COCO_EVAL_CAP["Bleu_4"], rel=1e-12)


def test_help_shows_an_example(tmp_path):
    assert "Example: vlkit caption score --references" in invoke_cli(["caption", "score", "--help"], cwd=tmp_path).stdout


VQA_QUESTIONS = {"questions": [{"image_id": 1, "question": "what?", "question_id": 10}]}
VQA_ANNOTATIONS = {"annotations": [{"question_id": 10, "image_id": 1, "answers": [{"answer": "yes"}]}]}
KARPATHY = {"images": [{"imgid": 0, "sentences": [{"raw": "A dog.", "tokens": ["a", "dog"]}], "split": "val"}],
            "dataset": "coco"}
GOOD_REFERENCES, GOOD_PREDICTIONS = coco_references(REFERENCES), coco_results(PREDICTIONS)
# (references, predictions, words the error line must hold); a str is written as raw text
REFUSED = {
    "missing references": (None, GOOD_PREDICTIONS, "references file not found"),
    "malformed references": ('{"annotations": [\n  {"image_id": 1,, }]}', GOOD_PREDICTIONS,
                             "is not valid JSON: Expecting property name enclosed in double quotes at line 2, "
                             "column 18"),
    "VQA questions as references": (VQA_QUESTIONS, GOOD_PREDICTIONS, "is a VQA questions file"),
    "VQA annotations as references": (VQA_ANNOTATIONS, GOOD_PREDICTIONS, "is a VQA annotations file"),
    "Karpathy file as references": (KARPATHY, GOOD_PREDICTIONS, "is a Karpathy split file (dataset_*.json"),
    "reference without caption": ({"annotations": [{"image_id": 1}]}, GOOD_PREDICTIONS,
                                  "annotation #0 lacks image_id or caption"),
    "predictions not a list": (GOOD_REFERENCES, {"1": "a man"}, "is an object with keys ['1']; expected"),
    "prediction without caption": (GOOD_REFERENCES, [{"image_id": 1}], "prediction #0 lacks image_id or caption"),
    "prediction without image_id": (GOOD_REFERENCES, [{"caption": "a man"}], "prediction #0 lacks image_id"),
    "empty prediction": (GOOD_REFERENCES, [{"image_id": 1, "caption": "  "}], "prediction #0 has an empty caption"),
    "empty reference": (coco_references({1: [""]}), GOOD_PREDICTIONS, "annotation #0 has an empty caption"),
    "unknown image ids": (GOOD_REFERENCES, [*GOOD_PREDICTIONS, {"image_id": 77, "caption": "a"},
                                            {"image_id": 78, "caption": "b"}],
                          "2 predicted image_id(s) are not in the references"),
    "duplicate prediction": (GOOD_REFERENCES, [*GOOD_PREDICTIONS, {"image_id": 2, "caption": "a dog"}],
                             "prediction #3 is a second prediction for image_id 2"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_input_is_one_error_line_with_exit_status_2(case, tmp_path, monkeypatch, capsys):
    references, predictions, words = REFUSED[case]
    paths = []
    for name, content in (("refs.json", references), ("preds.json", predictions)):
        if content is not None:
            tmp_path.joinpath(name).write_text(content if isinstance(content, str) else json.dumps(content))
        paths.append(str(tmp_path / name))
    # the console entry point in this process (a subprocess per case would take most of this file's time)
    monkeypatch.setattr(sys, "argv", ["vlkit", "caption", "score", "--references", paths[0], "--predictions", paths[1]])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err


def test_json_keys_are_the_ones_readme_documents(tmp_path):
    repo = Path(__file__).resolve().parents[3]
    lines = repo.joinpath("README.md").read_text().splitlines()
    row = next(line for line in lines if line.startswith("| `caption score`"))
    documented = set(re.findall(r"`([^`]+)`", row.split(" | ", 1)[1]))
    references, predictions = write_caption_files(tmp_path)
    report = json.loads(score_without_java(["caption", "score", "--references", str(references), "--predictions",
                                            str(predictions), "--spice", "--json"], tmp_path).stdout)
    assert set(report) == documented
