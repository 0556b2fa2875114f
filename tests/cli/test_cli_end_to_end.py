"""A user's path through the CLI: train on a subset of easy-VQA, list, evaluate, predict, move the run."""

import json
import re
import shutil

import pytest
from PIL import Image

from conftest import REPO, invoke_cli, only_run_dir, read_jsonl
from vlkit.vqa.data.easyvqa_files import default_root

# the progress bar stays on: with --json, stdout must still hold exactly one JSON object
SMALL = ["data.train_subset=1200", "data.eval_subset=300", "data.batch_size=32", "trainer.max_epochs=1"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    result = invoke_cli(["vqa", "train", *SMALL, "--json"], cwd=work)
    return work, json.loads(result.stdout)


def test_train_writes_a_complete_run(trained_run):
    work, summary = trained_run
    run_dir = only_run_dir(work / "runs")
    assert summary["run_dir"] == str(run_dir.relative_to(work))
    for name in ("config.yaml", "run.json", "metrics.jsonl", "metrics.csv", "best.ckpt", "last.ckpt", "vocab.json",
                 "answers.json", "summary.json", "predictions_test.json"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == [0]
    assert rows[0]["samples_per_second"] > 0 and "val/acc" in rows[0]
    assert summary["test"]["num_questions"] == 300
    assert set(summary["test"]["perAnswerType"]) <= {"yes/no", "shape", "color"}
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"
    predictions = json.loads((run_dir / "predictions_test.json").read_text())
    assert len(predictions) == 300
    accuracy = 100 * sum(p["answer"] == p["ground_truth"] for p in predictions) / 300
    assert round(accuracy, 2) == summary["test"]["overall"]


def readme_table(heading: str) -> list[tuple[list[str], list[str]]]:
    """The `backticked` names of the first and second column of each row of the README table after `heading`."""
    section = REPO.joinpath("README.md").read_text().split(heading, 1)[1]
    table = section.split("\n| ", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\|? ?(.+?) \| (.+?) \|$", "| " + table, re.M)
    return [(re.findall(r"`([^`]+)`", first), re.findall(r"`([^`]+)`", second)) for first, second in rows[2:]]


def test_the_run_directory_holds_the_files_readme_documents(trained_run):
    work, _ = trained_run
    documented = {name.rstrip("/") for names, _ in readme_table("### Run directories") for name in names}
    only_official_vqa, only_slurm = {"data_check.json"}, {"hpc_ckpt_<n>.ckpt"}
    assert {p.name for p in only_run_dir(work / "runs").iterdir()} == documented - only_official_vqa - only_slurm


def test_json_outputs_have_the_keys_readme_documents(trained_run, tmp_path):
    work, summary = trained_run
    documented = {command[0]: keys for command, keys in readme_table("The keys of the JSON objects")}
    assert set(summary) == set(documented["vqa train"])
    evaluated = json.loads(invoke_cli(["vqa", "evaluate", summary["run_dir"], "--json"], cwd=work).stdout)
    assert set(evaluated) == set(summary["test"]) == {"split", "num_questions", "predictions", "overall",
                                                      "perAnswerType"}
    assert set(evaluated) <= set(documented["vqa evaluate"])
    image = tmp_path / "shape.png"
    shutil.copy(default_root() / "test" / "images" / "2.png", image)
    predicted = json.loads(invoke_cli(["vqa", "predict", summary["run_dir"], "--image", str(image), "--question",
                                       "what shape is it?", "--json"], cwd=work).stdout)
    assert set(predicted) | set(predicted["answers"][0]) == set(documented["vqa predict"])
    listing = json.loads(invoke_cli(["runs", "list", "--json"], cwd=work).stdout)
    assert {"runs"} | set(listing["runs"][0]) == set(documented["runs list"]) and set(listing) == {"runs"}


def test_runs_list_shows_the_run(trained_run):
    work, summary = trained_run
    listing = json.loads(invoke_cli(["runs", "list", "--json"], cwd=work).stdout)["runs"]
    assert len(listing) == 1
    assert listing[0]["status"] == "finished" and listing[0]["epochs"] == 1
    assert listing[0]["test"] == summary["test"]["overall"]


def test_evaluate_json_matches_the_training_summary(trained_run):
    work, summary = trained_run
    result = invoke_cli(["vqa", "evaluate", summary["run_dir"], "--split", "test", "--json"], cwd=work)
    report = json.loads(result.stdout)  # stdout holds exactly one JSON object
    assert report["overall"] == summary["test"]["overall"]
    assert report["perAnswerType"] == summary["test"]["perAnswerType"]


def test_predict_from_a_copied_run_without_the_dataset(trained_run, tmp_path):
    work, summary = trained_run
    moved = tmp_path / "elsewhere" / "my-run"
    shutil.copytree(work / summary["run_dir"], moved)
    image = tmp_path / "shape.png"
    shutil.copy(default_root() / "test" / "images" / "0.png", image)
    attention = tmp_path / "att.png"
    # the dataset is gone: the easy-vqa package cannot be imported
    without_dataset = ("easy_vqa",)
    evaluated = invoke_cli(["vqa", "evaluate", str(moved)], cwd=tmp_path, check=False, hidden_modules=without_dataset)
    assert evaluated.returncode == 2 and "pip install easy-vqa" in evaluated.stderr  # it needs the dataset
    result = invoke_cli(["vqa", "predict", str(moved), "--image", str(image), "--question", "what color is the shape?",
                         "--top-k", "3", "--attention", str(attention), "--json"], cwd=tmp_path,
                        hidden_modules=without_dataset)
    payload = json.loads(result.stdout)
    probabilities = [a["probability"] for a in payload["answers"]]
    assert len(probabilities) == 3
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6
    assert Image.open(attention).size[0] > 100


def test_predict_bad_inputs_give_clear_errors(trained_run, tmp_path):
    work, summary = trained_run
    run = summary["run_dir"]
    image = default_root() / "test" / "images" / "1.png"
    empty = invoke_cli(["vqa", "predict", run, "--image", str(image), "--question", "  "], cwd=work, check=False)
    assert empty.returncode == 2 and "question is empty" in empty.stderr and "Traceback" not in empty.stderr
    missing = invoke_cli(["vqa", "predict", run, "--image", "nope.png", "--question", "is it red?"], cwd=work,
                         check=False)
    assert missing.returncode == 2 and "image file not found" in missing.stderr
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    bad = invoke_cli(["vqa", "predict", run, "--image", str(corrupt), "--question", "is it red?"], cwd=work,
                     check=False)
    assert bad.returncode == 2 and "cannot decode image" in bad.stderr and "Traceback" not in bad.stderr
    unknown = invoke_cli(["vqa", "predict", run, "--image", str(image), "--question", "is the zorblax red?"], cwd=work)
    assert "zorblax" in unknown.stderr and "<unk>" in unknown.stderr
    assert len(unknown.stdout.strip().splitlines()) == 5
    not_a_run = invoke_cli(["vqa", "evaluate", str(tmp_path)], cwd=work, check=False)
    assert not_a_run.returncode == 2 and "is not a finished VQA run" in not_a_run.stderr


def test_unknown_override_fails_before_training(tmp_path):
    result = invoke_cli(["vqa", "train", "trainer.max_epoch=1"], cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "trainer.max_epoch" in result.stderr and "max_epochs" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_every_command_has_help_with_an_example(tmp_path):
    for command in (["vqa", "train"], ["vqa", "evaluate"], ["vqa", "predict"], ["runs", "list"]):
        assert "Example:" in invoke_cli([*command, "--help"], cwd=tmp_path).stdout


def test_attention_is_written_exactly_where_asked_and_never_over_an_input(trained_run, tmp_path):
    work, summary = trained_run
    image = tmp_path / "shape.png"
    shutil.copy(default_root() / "test" / "images" / "3.png", image)
    before = image.read_bytes()
    ask = ["vqa", "predict", summary["run_dir"], "--image", str(image), "--question", "what color is the shape?"]
    for target, says in ((image, "is an input of this command"), (tmp_path / "attmap", "must end in .png"),
                         (tmp_path / "notes.txt", "must end in .png"), (tmp_path, "is a folder")):
        result = invoke_cli([*ask, "--attention", str(target)], cwd=work, check=False)
        assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr, target
    assert image.read_bytes() == before and not (tmp_path / "attmap.png").exists()
    assert not tmp_path.with_suffix(".png").exists()
    drawn = tmp_path / "figures" / "att.pdf"
    result = invoke_cli([*ask, "--attention", str(drawn), "--json"], cwd=work)
    assert json.loads(result.stdout)["attention"] == str(drawn) and drawn.read_bytes().startswith(b"%PDF")


def test_questions_as_people_type_them(trained_run):
    work, summary = trained_run
    image = str(default_root() / "test" / "images" / "4.png")
    ask = ["vqa", "predict", summary["run_dir"], "--image", image, "--question"]
    chinese = invoke_cli([*ask, "形状是什么颜色"], cwd=work, check=False)
    assert chinese.returncode == 2 and "has no known words: ['形状是什么颜色']" in chinese.stderr
    punctuation = invoke_cli([*ask, "?!"], cwd=work, check=False)
    assert punctuation.returncode == 2 and "has no words" in punctuation.stderr
    long = invoke_cli([*ask, "what color is the shape " + "please " * 40, "--json"], cwd=work)
    assert "reads the first 16 words of a question; the last 29 were not read" in long.stderr
    answered = json.loads(long.stdout)
    assert answered["dropped_words"] == 29 and len(answered["answers"]) == 5
