"""`vlkit videoqa ...` as a user runs it: prepare frames from a video folder, train, predict, score; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import invoke_cli

from vlkit.synth.videos import make_synthetic_videoqa

COMMANDS = ("prepare", "train", "evaluate", "predict", "score", "import")
TINY = ["model.module_dim=16", "model.word_dim=8", "model.mfb_dim=8", "model.appearance_dim=8", "model.motion_dim=8",
        "clip_encoder.appearance_channels=[8]", "clip_encoder.motion_channels=[8]", "data.batch_size=8",
        "trainer.max_epochs=1", "trainer.threads=1", "trainer.progress_bar=false"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """A synthetic set of 10 videos in MSVD-QA's layout (clip<N>.mp4 + youtube_mapping.txt + annotations/)."""
    root = tmp_path_factory.mktemp("videos")
    make_synthetic_videoqa(root, num_videos=10, seed=3)
    return root


def test_videoqa_commands_have_help_with_an_example(tmp_path):
    for command in COMMANDS:
        assert "Example:" in invoke_cli(["videoqa", command, "--help"], cwd=tmp_path).stdout, command


def test_prepare_frames_then_train_predict_and_score_from_the_command_line(videos, tmp_path):
    prepared = invoke_cli(["videoqa", "prepare", "--videos", str(videos / "videos"), "--mapping",
                           str(videos / "youtube_mapping.txt"), "--annotations", str(videos / "annotations"), "--out",
                           str(tmp_path / "prepared"), "--frames", "--clips", "2", "--frames-per-clip", "2", "--size",
                           "32", "--workers", "1", "--json"], cwd=tmp_path)
    report = json.loads(prepared.stdout)
    assert report["videos"] == 10 and report["complete"] and report["videos_missing"] == []
    assert report["stores"] == {"frames": str(tmp_path / "prepared" / "frames")}

    trained = invoke_cli(["videoqa", "train", "data.dataset=video_frames", f"data.annotations={videos / 'annotations'}",
                          f"data.frames={tmp_path / 'prepared' / 'frames'}", f"run.root={tmp_path / 'runs'}", *TINY,
                          "--json"], cwd=tmp_path)
    summary = json.loads(trained.stdout)
    test_questions = json.loads((videos / "annotations" / "test_qa.json").read_text())
    assert summary["test"]["num_questions"] == len(test_questions) and summary["monitor"] == "val/acc"

    answered = invoke_cli(["videoqa", "predict", summary["run_dir"], "--video", str(videos / "videos" / "clip9.mp4"),
                           "-q", "how many shapes move", "--top-k", "2", "--json"], cwd=tmp_path)
    prediction = json.loads(answered.stdout)
    assert len(prediction["answers"]) == 2 and len(prediction["clip_attention"]) == 2

    scored = invoke_cli(["videoqa", "score", "--annotations", str(videos / "annotations" / "test_qa.json"),
                         "--predictions", summary["test"]["predictions"], "--json"], cwd=tmp_path)
    assert json.loads(scored.stdout)["accuracy"] == summary["test"]["accuracy"]


def test_prepare_names_videos_the_questions_need_and_the_folder_lacks(videos, tmp_path):
    partial = tmp_path / "videos"
    partial.mkdir()
    (partial / "clip1.mp4").write_bytes((videos / "videos" / "clip1.mp4").read_bytes())
    result = invoke_cli(["videoqa", "prepare", "--videos", str(partial), "--mapping", str(videos / "youtube_mapping.txt"),
                         "--annotations", str(videos / "annotations"), "--out", str(tmp_path / "out"), "--frames"],
                        cwd=tmp_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "clip" in result.stderr and "--skip-bad" in result.stderr
    assert not (tmp_path / "out").exists()


def test_bad_input_is_one_error_line(videos, tmp_path):
    annotations = str(videos / "annotations" / "test_qa.json")
    cases = [
        (["videoqa", "score", "--annotations", annotations, "--predictions", str(tmp_path / "none.json")], "not found"),
        (["videoqa", "score", "--annotations", str(videos / "youtube_mapping.txt"), "--predictions", annotations],
         "not valid JSON"),
        (["videoqa", "import", annotations, "--from", "hcrn", "--vocab", annotations, "--out", str(tmp_path / "r")],
         "--from 'hcrn' is not supported"),
        (["videoqa", "train", "data.dataset=clip_features"], "data.annotations is not set"),
        (["videoqa", "prepare", "--videos", str(videos / "videos"), "--annotations", str(videos / "annotations"),
          "--out", str(videos / "videos"), "--frames"], "is the --videos folder"),
        (["videoqa", "prepare", "--videos", str(videos / "videos"), "--annotations", str(videos / "annotations"),
          "--out", annotations, "--frames"], "is a file"),
        (["videoqa", "train", "model.name=msvqa", "model.stage=both"], "model.stage"),
    ]
    for args, says in cases:
        result = invoke_cli(args, cwd=tmp_path, check=False)
        assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr, args
