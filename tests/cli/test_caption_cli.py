"""A user's path through `vlkit caption`: train on a small synthetic set, evaluate, predict with per-word attention,
and the errors a careless user meets."""

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import invoke_cli
from vlkit.caption.task import CaptionTask
from vlkit.core.config import load_config
from vlkit.core.errors import VlkitError
from vlkit.core.fit import fit

SMALL = ["data.n_train=40", "data.n_val=8", "data.n_test=8", "data.image_size=32", "data.batch_size=16",
         "trainer.max_epochs=1", "model.embed_dim=32", "model.attention_dim=32", "model.decoder_dim=32",
         "model.grid_size=4", "decoding.max_length=12"]


@pytest.fixture(scope="module")
def caption_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("caption_e2e")
    env = {"VLKIT_CACHE": str(work / "cache")}
    result = invoke_cli(["caption", "train", *SMALL, "--json"], cwd=work, env=env)
    return work, json.loads(result.stdout), env


def test_train_writes_a_complete_captioning_run(caption_run):
    work, summary, _ = caption_run
    run_dir = work / summary["run_dir"]
    for name in ("config.yaml", "run.json", "metrics.jsonl", "best.ckpt", "last.ckpt", "word_map.json", "images.json",
                 "summary.json", "predictions_test.json"):
        assert (run_dir / name).is_file(), name
    epoch = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    assert {"val/score", "val/CIDEr", "val/Bleu_4", "train/top5"} <= set(epoch)
    assert epoch["val/score"] == epoch["val/CIDEr"]  # decoding.val_metric defaults to CIDEr
    rows = json.loads((run_dir / "predictions_test.json").read_text())
    assert len(rows) == 8 and all(set(row) == {"image_id", "caption"} for row in rows)
    assert summary["test"]["num_questions"] == 8 and "CIDEr" in summary["test"]


def test_evaluate_scores_what_training_scored_on_the_test_split(caption_run):
    work, summary, env = caption_run
    result = invoke_cli(["caption", "evaluate", summary["run_dir"], "--json"], cwd=work, env=env)
    report = json.loads(result.stdout)
    for key in ("Bleu_4", "CIDEr", "ROUGE_L", "tutorial_bleu4"):
        assert report[key] == pytest.approx(summary["test"][key])


def test_evaluate_with_another_beam_and_refuses_model_changes(caption_run):
    work, summary, env = caption_run
    wider = invoke_cli(["caption", "evaluate", summary["run_dir"], "--split", "val", "decoding.beam_size=5",
                        "--json"], cwd=work, env=env)
    assert json.loads(wider.stdout)["num_questions"] == 8
    refused = invoke_cli(["caption", "evaluate", summary["run_dir"], "model.decoder_dim=8"], cwd=work, env=env,
                         check=False)
    assert refused.returncode == 2 and "evaluate takes only data.* and decoding.* overrides" in refused.stderr


def test_predict_writes_one_attention_map_per_word_from_a_moved_run(caption_run, tmp_path):
    work, summary, env = caption_run
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(work / summary["run_dir"], moved)
    image = next((work / "cache").rglob("images/*.png"))
    figure = tmp_path / "words.png"
    result = invoke_cli(["caption", "predict", str(moved), "--image", str(image), "--beam", "2", "--attention",
                         str(figure), "--json"], cwd=tmp_path, env={"VLKIT_CACHE": str(tmp_path / "empty-cache")})
    payload = json.loads(result.stdout)
    assert isinstance(payload["caption"], str) and payload["log_probability"] <= 0
    assert payload["attention"] == str(figure) and Image.open(figure).size[0] > 200


def test_predict_bad_inputs_give_one_error_line(caption_run, tmp_path):
    work, summary, env = caption_run
    run = summary["run_dir"]
    image = next((work / "cache").rglob("images/*.png"))
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xffnot a jpeg")
    for args, says in ((["--image", str(corrupt)], "cannot decode image"),
                       (["--image", str(image), "--beam", "0"], "--beam must be at least 1")):
        result = invoke_cli(["caption", "predict", run, *args], cwd=work, env=env, check=False)
        assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr, args


def test_show_tell_trains_and_refuses_to_draw_attention_it_does_not_have(tmp_path, monkeypatch):
    monkeypatch.setenv("VLKIT_CACHE", str(tmp_path / "cache"))
    # scored as on a machine without Java: METEOR's JVM (most of this test's time) is not what it checks
    monkeypatch.setattr("vlkit.caption.metrics.scorers.java_problem", lambda: "`java` is hidden by this test")
    task = CaptionTask()
    small = [item for item in SMALL if not item.startswith(("model.attention_dim", "model.decoder_dim",
                                                             "model.grid_size"))]
    config = load_config(task, None, ["model.name=show_tell", *small, "model.hidden_dim=32",
                                      "trainer.progress_bar=false", f"run.root={tmp_path / 'runs'}"])
    summary = fit(task, config)
    predictor = task.predictor_class.open(task, Path(summary["run_dir"]))
    result = predictor.caption(next((tmp_path / "cache").rglob("images/*.png")))
    assert result.words and result.attention is None
    with pytest.raises(VlkitError, match="does not attend to image regions"):
        predictor.save_attention(result, tmp_path / "a.png")


def test_caption_commands_have_help_with_an_example(tmp_path):
    for command in ("train", "evaluate", "predict", "score", "prepare", "import"):
        assert "Example:" in invoke_cli(["caption", command, "--help"], cwd=tmp_path).stdout, command


def test_import_from_an_unknown_source_is_refused(tmp_path):
    result = invoke_cli(["caption", "import", "x.pth", "--from", "lavis", "--word-map", "w.json", "--out",
                         str(tmp_path / "r")], cwd=tmp_path, check=False)
    assert result.returncode == 2 and "supported: sgrvinod" in result.stderr
