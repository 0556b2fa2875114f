"""Video QA on the core: training on frames, clip-feature batches, the embedded recipe, msvqa's two stages, import.

The synthetic set here is tiny (12 videos, 2 clips x 2 frames of 32 px) and the models are narrow, so that a
whole fit -> evaluate -> predict takes seconds; what it checks is the plumbing, against counts and values read
independently from the files the test wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from dualvgr_reference import random_dualvgr_state, reference_logits

from vlkit.core.config import load_config
from vlkit.core.errors import VlkitError
from vlkit.core.evaluate import evaluate_run
from vlkit.core.fit import fit
from vlkit.core.runs import read_metadata
from vlkit.features.store import StoreWriter
from vlkit.videoqa.dualvgr_run import import_dualvgr_run
from vlkit.videoqa.predictor import VideoQAPredictor
from vlkit.videoqa.task import VideoQATask

TINY_MODEL = ["model.module_dim=16", "model.word_dim=8", "model.mfb_dim=8", "model.appearance_dim=8",
              "model.motion_dim=8", "clip_encoder.appearance_channels=[8]", "clip_encoder.motion_channels=[8]"]


@pytest.fixture(scope="module")
def synthetic_folder(tmp_path_factory) -> Path:
    """The synthetic set of 12 videos (train 7, val 2, test 3), decoded on first use into 2 x 2 frames of 32 px."""
    return tmp_path_factory.mktemp("synthetic-videoqa")


def tiny_config(task: VideoQATask, folder: Path, runs: Path, *extra: str):
    return load_config(task, None, [
        f"data.folder={folder}", "data.num_videos=12", "data.clips=2", "data.frames_per_clip=2", "data.frame_size=32",
        "data.batch_size=8", "data.eval_batch_size=16", *TINY_MODEL, "trainer.max_epochs=1", "trainer.threads=1",
        "trainer.progress_bar=false", f"run.root={runs}", *extra])


def test_dualvgr_trains_on_synthetic_frames_evaluates_and_answers_a_video_file(synthetic_folder, tmp_path):
    task = VideoQATask()
    summary = fit(task, tiny_config(task, synthetic_folder, tmp_path))
    run_dir = Path(summary["run_dir"])
    test_questions = json.loads((synthetic_folder / "raw" / "annotations" / "test_qa.json").read_text())
    assert summary["test"]["num_questions"] == len(test_questions)
    rows = json.loads((run_dir / "predictions_test.json").read_text())
    assert [row["id"] for row in rows] == [q["id"] for q in test_questions]
    correct = sum(row["answer"] == q["answer"] for row, q in zip(rows, test_questions))
    assert summary["test"]["accuracy"] == pytest.approx(round(100 * correct / len(rows), 2))
    assert json.loads((run_dir / "video_input.json").read_text()) == {"kind": "frames", "clip_shape": [2, 2],
                                                                      "frame_size": 32, "frame_stride": 4}
    assert evaluate_run(task, run_dir)["accuracy"] == summary["test"]["accuracy"]

    predictor = VideoQAPredictor.open(task, run_dir)
    video = synthetic_folder / "raw" / "videos" / "clip1.mp4"
    result = predictor.answer(video, "what moves to the left zebra", top_k=3)
    assert len(result.answers) == 3 and result.unknown_words == ["zebra"]
    assert sum(p for _, p in result.answers) <= 1.0 + 1e-6
    assert len(result.clip_attention) == 2 and sum(result.clip_attention) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(VlkitError, match="no known words"):
        predictor.answer(video, "zebra giraffe")


def test_msvqa_reconstruction_stage_keeps_its_lowest_error_and_the_qa_stage_starts_from_it(synthetic_folder,
                                                                                         tmp_path):
    task = VideoQATask()
    stage_one = fit(task, tiny_config(task, synthetic_folder, tmp_path, "model.name=msvqa",
                                      "model.stage=reconstruction", "model.reconstruct=pixels",
                                      "model.decoder_hidden_dim=8"))
    stage_one_dir = Path(stage_one["run_dir"])
    assert read_metadata(stage_one_dir)["monitor"] == "val/reconstruction"
    assert read_metadata(stage_one_dir)["monitor_mode"] == "min"
    config = tiny_config(task, synthetic_folder, tmp_path, "model.name=msvqa", "model.stage=qa",
                         "model.reconstruct=pixels", "model.decoder_hidden_dim=8", f"model.init_from={stage_one_dir}")
    assert task.training_departures(config) == []
    datamodule = task.build_datamodule(config)
    datamodule.setup()
    module = task.build_module(config, datamodule.vocabularies, fresh=True)
    saved = torch.load(stage_one_dir / "best.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    for key, value in module.state_dict().items():
        assert torch.equal(value, saved[key]), key


def test_msvqa_qa_stage_without_its_first_stage_is_recorded_and_a_missing_one_refused(tmp_path):
    task = VideoQATask()
    config = load_config(task, None, ["model.name=msvqa", "model.reconstruct=pixels", *TINY_MODEL])
    assert task.training_departures(config) == [
        "model.init_from is not set: msvqa's QA stage starts without its reconstruction stage"]
    config = load_config(task, None, ["model.name=msvqa", "model.reconstruct=pixels", *TINY_MODEL,
                                      f"model.init_from={tmp_path / 'nothing'}"])
    with pytest.raises(VlkitError, match="no checkpoint there"):
        task.training_departures(config)


def test_msvqa_on_frames_must_rebuild_pixels_not_the_moving_cnn_features():
    with pytest.raises(VlkitError, match="model.reconstruct.*'pixels'"):
        load_config(VideoQATask(), None, ["model.name=msvqa", "model.stage=reconstruction", *TINY_MODEL])


def test_the_embedded_recipe_gives_way_to_another_model_named_on_the_command_line():
    task = VideoQATask()
    default = load_config(task, None, [])
    assert (default.model_entry.name, default.model.module_dim, default.data.batch_size) == ("dualvgr", 128, 32)
    other = load_config(task, None, ["model.name=question_only"])
    assert other.model_entry.name == "question_only" and other.model.hidden_dim == 512
    assert other.data.batch_size == 32  # the recipe's data section still applies


def test_frame_widths_must_match_what_the_model_reads():
    with pytest.raises(VlkitError, match="set model.appearance_dim=8"):
        load_config(VideoQATask(), None, ["clip_encoder.appearance_channels=[8]"])


def write_clip_store(directory: Path, ids: list[int], clips: int, frames: int, dim: int, seed: int) -> np.ndarray:
    """A clips store of random rows; returns them (N, clips * frames, dim) in `ids` order."""
    rows = np.random.default_rng(seed).normal(size=(len(ids), clips * frames, dim)).astype(np.float16)
    writer = StoreWriter(directory, ids, clips * frames, dim, "clips", {"clip_shape": [clips, frames]})
    writer.write(ids, rows, [clips * frames] * len(ids))
    writer.finish()
    return rows


def write_annotations(folder: Path, splits: dict[str, list[tuple[int, str, str]]]) -> None:
    """{split: [(video_id, question, answer)]} -> {split}_qa.json, ids numbered on across the splits."""
    folder.mkdir(parents=True, exist_ok=True)
    next_id = 0
    for split, rows in splits.items():
        records = []
        for video_id, question, answer in rows:
            records.append({"answer": answer, "id": next_id, "question": question, "video_id": video_id})
            next_id += 1
        (folder / f"{split}_qa.json").write_text(json.dumps(records))


def test_clip_feature_batches_hold_the_store_rows_and_leave_out_videos_without_features(tmp_path):
    ids = [3, 5, 8]
    appearance = write_clip_store(tmp_path / "appearance", ids, clips=2, frames=3, dim=4, seed=0)
    motion = write_clip_store(tmp_path / "motion", ids, clips=2, frames=1, dim=5, seed=1)
    write_annotations(tmp_path / "qa", {
        "train": [(3, "what is red", "ball"), (5, "who runs", "man"), (9, "what is blue", "sky")],
        "val": [(8, "what is red", "apple"), (5, "who runs", "man")],
        "test": [(8, "how many", "two")],
    })
    task = VideoQATask()
    config = load_config(task, None, ["data.dataset=clip_features", f"data.annotations={tmp_path / 'qa'}",
                                      f"data.appearance={tmp_path / 'appearance'}",
                                      f"data.motion={tmp_path / 'motion'}", "data.batch_size=1",
                                      "model.appearance_dim=4", "model.motion_dim=5"])
    datamodule = task.build_datamodule(config)
    datamodule.setup()
    assert datamodule.split_size("train") == 2  # video 9 has no features
    assert datamodule.answer_classes.answers == ["<UNK0>", "<UNK1>", "ball", "man", "sky"]  # all train answers
    batch = next(iter(datamodule.loader("val")))
    assert batch["appearance"].shape == (2, 2, 3, 4) and batch["motion"].shape == (2, 2, 5)
    store_rows = [[2, 1][i] for i in batch["index"].tolist()]  # val questions are on videos 8 (row 2) and 5 (row 1)
    expected_appearance = torch.from_numpy(appearance[store_rows].astype(np.float32)).reshape(2, 2, 3, 4)
    assert torch.equal(batch["appearance"], expected_appearance)
    assert torch.equal(batch["motion"], torch.from_numpy(motion[store_rows].astype(np.float32)))
    assert batch["answers"].tolist() == [[1, 3][i] for i in batch["index"].tolist()]  # "apple" is no class: 1
    report = datamodule.score("val", torch.tensor([1, 3]))
    assert report["accuracy"] == 50.0 and report["per_type"] == {"what": 0.0, "who": 100.0}


def test_clip_features_of_other_widths_than_the_model_reads_are_refused_before_training(tmp_path):
    write_clip_store(tmp_path / "appearance", [1], clips=2, frames=3, dim=4, seed=0)
    write_clip_store(tmp_path / "motion", [1], clips=2, frames=1, dim=5, seed=1)
    write_annotations(tmp_path / "qa", {"train": [(1, "what", "x")]})
    config = load_config(VideoQATask(), None, ["data.dataset=clip_features", f"data.annotations={tmp_path / 'qa'}",
                                               f"data.appearance={tmp_path / 'appearance'}",
                                               f"data.motion={tmp_path / 'motion'}", "model.appearance_dim=4"])
    with pytest.raises(VlkitError, match="set model.motion_dim=5"):
        VideoQATask().build_datamodule(config)


def test_clip_features_refuse_a_store_of_image_features(tmp_path):
    writer = StoreWriter(tmp_path / "grid", [1], 4, 3, "grid", {})
    writer.write([1], np.zeros((1, 4, 3)), [4])
    writer.finish()
    write_annotations(tmp_path / "qa", {"train": [(1, "what", "x")]})
    with pytest.raises(VlkitError, match="grid features, not video clips"):
        load_and_build = load_config(VideoQATask(), None, [
            "data.dataset=clip_features", f"data.annotations={tmp_path / 'qa'}", f"data.appearance={tmp_path / 'grid'}",
            f"data.motion={tmp_path / 'grid'}"])
        VideoQATask().build_datamodule(load_and_build)


def test_an_imported_dualvgr_checkpoint_answers_as_the_repository_computes(tmp_path):
    vocab_words = ["<NULL>", "<UNK>", "what", "is", "red", "who", "runs"]
    answers = ["<UNK0>", "<UNK1>", "ball", "man", "apple"]
    clips, frames, vision = 3, 16, 12
    state = random_dualvgr_state(len(vocab_words), len(answers), vision_dim=vision, module_dim=16, word_dim=10,
                                 unit_layers=2, seed=5)
    torch.save({"epoch": 3, "state_dict": state, "optimizer": {},
                "model_kwargs": {"vision_dim": vision, "module_dim": 16, "word_dim": 10, "num_of_nodes": clips,
                                 "graph_module": "GAT", "graph_layers": 1}}, tmp_path / "DualVGR1_model.pt")
    (tmp_path / "vocab.json").write_text(json.dumps({
        "question_token_to_idx": {word: i for i, word in enumerate(vocab_words)},
        "answer_token_to_idx": {answer: i for i, answer in enumerate(answers)},
        "question_answer_token_to_idx": {}}))
    ids = [1, 2]
    appearance = write_clip_store(tmp_path / "appearance", ids, clips, frames, vision, seed=2)
    motion = write_clip_store(tmp_path / "motion", ids, clips, 1, vision, seed=3)
    questions = [(1, "what is red", "ball"), (2, "who runs", "man"), (2, "what is red", "apple")]
    write_annotations(tmp_path / "qa", {"train": questions, "val": questions, "test": questions})
    run_dir = import_dualvgr_run(tmp_path / "DualVGR1_model.pt", tmp_path / "vocab.json", tmp_path / "runs" / "ref")
    with pytest.raises(VlkitError, match="never overwritten"):
        import_dualvgr_run(tmp_path / "DualVGR1_model.pt", tmp_path / "vocab.json", run_dir)

    report = evaluate_run(VideoQATask(), run_dir, "test", overrides=[
        f"data.annotations={tmp_path / 'qa'}", f"data.appearance={tmp_path / 'appearance'}",
        f"data.motion={tmp_path / 'motion'}"])
    rows = json.loads(Path(report["predictions"]).read_text())
    word_index = {word: i for i, word in enumerate(vocab_words)}
    tokens = torch.zeros(3, 3, dtype=torch.long)
    for row, (_, question, _) in enumerate(questions):
        tokens[row, : len(question.split())] = torch.tensor([word_index[w] for w in question.split()])
    lengths = torch.tensor([3, 2, 3])
    video_rows = [0, 1, 1]
    logits = reference_logits(state,
                              torch.from_numpy(appearance[video_rows].astype(np.float32)).reshape(3, clips, frames, -1),
                              torch.from_numpy(motion[video_rows].astype(np.float32)), tokens, lengths)
    assert [row["answer"] for row in rows] == [answers[i] for i in logits.argmax(dim=1).tolist()]
