"""What the demo's pages do with one request, without the browser: the page shows what the run's Predictor says
(answers, caption, attention), bad input comes back as a message in the page, and a failure never escapes."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from bad_uploads import frameless_video, text_file, truncated_png

from vlkit.core.errors import VlkitError
from vlkit.demo.examples import caption_examples, videoqa_examples, vqa_examples
from vlkit.demo.handlers import DISPLAY_SIDE, answer_image_question, answer_video_question, caption_image
from vlkit.demo.inputs import DemoLimits
from vlkit.demo.runs import open_demo_runs, pick_device

LIMITS = DemoLimits()


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("examples")
    return {"vqa": vqa_examples(folder), "caption": caption_examples(folder), "videoqa": videoqa_examples(folder)}


def test_the_vqa_page_shows_the_predictors_top_answers_and_its_attention_over_the_image(demo_runs, examples):
    vqa = demo_runs[0]
    image, question = examples["vqa"][0]
    shown = answer_image_question(vqa, image, question, 3, LIMITS)
    expected = vqa.predictor.answer(image, question, 3)
    assert list(shown.answers.items()) == expected.answers and len(shown.answers) == 3
    assert shown.message == ""
    side = expected.image.shape[0] * -(-DISPLAY_SIDE // expected.image.shape[0])  # 64 px enlarged x4
    assert shown.image.shape == (side, side, 3) and shown.image.dtype == np.uint8


def test_the_vqa_page_names_the_words_the_model_does_not_know(demo_runs, examples):
    image, _ = examples["vqa"][0]
    shown = answer_image_question(demo_runs[0], image, "what colour is the zorblax", 2, LIMITS)
    assert shown.answers and shown.message.startswith("Words this model does not know")
    assert "zorblax" in shown.message and "colour" in shown.message


def test_the_caption_page_shows_the_beam_caption_and_one_attention_map_per_word(demo_runs, examples):
    captioning = demo_runs[1]
    (image,) = examples["caption"][2]
    shown = caption_image(captioning, image, 2, LIMITS)
    expected = captioning.predictor.caption(image, 2)
    assert shown.caption == expected.caption and shown.caption
    assert [word for _, word in shown.gallery] == expected.words
    assert all(picture.shape[0] >= DISPLAY_SIDE for picture, _ in shown.gallery)


def test_the_video_page_shows_the_answers_and_the_weight_of_each_clip(demo_runs, examples):
    videoqa = demo_runs[2]
    video, question = examples["videoqa"][0]
    shown = answer_video_question(videoqa, video, question, 4, LIMITS)
    expected = videoqa.predictor.answer(video, question, 4)
    assert list(shown.answers.items()) == expected.answers
    assert list(shown.clip_attention.values()) == pytest.approx(expected.clip_attention)
    assert sum(shown.clip_attention.values()) == pytest.approx(1.0)  # DualVGR pools clips with a softmax
    assert [label for _, label in shown.gallery] == [f"clip {i + 1}: weight {w:.2f}"
                                                     for i, w in enumerate(expected.clip_attention)]


@pytest.mark.parametrize("case,expected", [
    ("text as image", "the upload is not an image"),
    ("truncated image", "the image is damaged"),
    ("no image", "upload an image first"),
    ("empty question", "type a question first"),
    ("500-word question", "the question has 500 words"),
    ("top-k 0", "answers shown must be a whole number from 1 to 10"),
])
def test_a_bad_vqa_request_is_a_message_in_the_page_with_nothing_else(demo_runs, examples, tmp_path, case, expected):
    image, question = examples["vqa"][0]
    inputs = {"text as image": (text_file(tmp_path / "a.png"), question, 3),
              "truncated image": (truncated_png(tmp_path / "b.png"), question, 3),
              "no image": (None, question, 3), "empty question": (image, "  ", 3),
              "500-word question": (image, "shape " * 500, 3), "top-k 0": (image, question, 0)}[case]
    shown = answer_image_question(demo_runs[0], *inputs, LIMITS)
    assert shown.message.startswith(f"Could not answer: {expected}")
    assert shown.answers == {} and shown.image is None


@pytest.mark.parametrize("case,expected", [
    ("text as video", "the upload is not a video"),
    ("video without frames", "the video has no frames"),
    ("question of unknown words", "question 'zorblax quux' has no known words"),
])
def test_a_bad_video_request_is_a_message_in_the_page(demo_runs, examples, tmp_path, case, expected):
    video, question = examples["videoqa"][0]
    inputs = {"text as video": (text_file(tmp_path / "a.mp4"), question),
              "video without frames": (frameless_video(tmp_path / "b.avi"), question),
              "question of unknown words": (video, "zorblax quux")}[case]
    shown = answer_video_question(demo_runs[2], *inputs, 3, LIMITS)
    assert shown.message.startswith(f"Could not answer: {expected}") and shown.answers == {} and shown.gallery == []


def test_a_failure_inside_the_model_is_logged_and_reported_without_raising(demo_runs, examples, monkeypatch, caplog):
    captioning = demo_runs[1]

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(captioning.predictor, "caption", broken)
    with caplog.at_level(logging.ERROR, logger="vlkit.demo"):
        shown = caption_image(captioning, examples["caption"][0][0], 3, LIMITS)
    assert shown.message == ("Could not answer: the server failed on this input (RuntimeError); the details are in "
                             "the server's log.")
    assert "CUDA out of memory (simulated)" in caplog.text and captioning.label in caplog.text


def test_a_run_name_the_page_does_not_have_is_refused(examples):
    image, question = examples["vqa"][0]
    assert answer_image_question(None, image, question, 3, LIMITS).message == ("Could not answer: pick one of the "
                                                                               "loaded runs")


def test_runs_are_labelled_by_folder_and_their_task_read_from_run_json(demo_runs):
    assert [run.task for run in demo_runs] == ["vqa", "caption", "videoqa"]
    assert [run.label for run in demo_runs] == [run.predictor.trained.run_dir.name for run in demo_runs]
    assert all(run.predictor.device.type == "cpu" for run in demo_runs)


def test_two_runs_with_the_same_folder_name_are_labelled_with_their_parents(demo_runs, tmp_path):
    import shutil

    source = demo_runs[1].predictor.trained.run_dir
    copies = [shutil.copytree(source, tmp_path / parent / source.name) for parent in ("seed0", "seed1")]
    labels = [run.label for run in open_demo_runs([str(c) for c in copies], device="cpu")]
    assert labels == [f"seed0/{source.name}", f"seed1/{source.name}"]


def test_a_folder_that_is_not_a_run_an_unknown_task_and_a_repeated_run_are_refused(demo_runs, tmp_path):
    with pytest.raises(VlkitError, match="is not a vlkit run: its run.json is missing"):
        open_demo_runs([str(tmp_path)], device="cpu")
    (tmp_path / "run.json").write_text('{"task": "segmentation"}')
    with pytest.raises(VlkitError, match="task 'segmentation', which the demo has no page for"):
        open_demo_runs([str(tmp_path)], device="cpu")
    run = str(demo_runs[0].predictor.trained.run_dir)
    with pytest.raises(VlkitError, match="a run is named twice"):
        open_demo_runs([run, run], device="cpu")
    with pytest.raises(VlkitError, match="name at least one run"):
        open_demo_runs([], device="cpu")


def test_a_device_other_than_auto_cpu_or_cuda_is_refused():
    with pytest.raises(VlkitError, match="--device must be auto, cpu or cuda, got 'tpu'"):
        pick_device("tpu")
    assert pick_device("cpu") == "cpu"


def test_a_vqa_model_without_attention_answers_and_says_it_has_no_attention(demo_runs, examples, monkeypatch):
    import dataclasses

    vqa = demo_runs[0]
    answer = vqa.predictor.answer
    monkeypatch.setattr(vqa.predictor, "answer",
                        lambda *args: dataclasses.replace(answer(*args), attention=None))  # as bow, concat_mean
    image, question = examples["vqa"][0]
    shown = answer_image_question(vqa, image, question, 2, LIMITS)
    assert len(shown.answers) == 2 and shown.image is None
    assert shown.message == "This model has no attention over the image."
