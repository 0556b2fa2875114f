import json
import shutil

import numpy as np
import pytest

from vlkit.core.errors import VlkitError
from vlkit.vision.images import load_rgb
from vlkit.vqa.data import easyvqa_files
from vlkit.vqa.data.easyvqa_module import split_by_image


def test_package_data_has_the_published_counts():
    """easy-VQA's README: 4,000/1,000 images, 38,575/9,673 questions, 13 answers, 28,407 train yes/no."""
    root = easyvqa_files.default_root()
    answers = easyvqa_files.read_answers(root)
    train = easyvqa_files.read_split(root, "train", answers)
    test = easyvqa_files.read_split(root, "test", answers)
    assert len(answers) == 13
    assert (len(train.questions), len(test.questions)) == (38575, 9673)
    assert (len(train.image_paths), len(test.image_paths)) == (4000, 1000)
    assert sum(easyvqa_files.answer_type(a) == "yes/no" for a in train.answers) == 28407
    assert load_rgb(train.image_paths[0]).shape == (64, 64, 3)


def test_answer_types():
    assert [easyvqa_files.answer_type(a) for a in ("yes", "no", "circle", "teal")] == ["yes/no", "yes/no", "shape", "color"]


@pytest.fixture()
def copy_root(shapes_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(shapes_root, root)
    return root


def test_malformed_question_files_are_named(copy_root):
    answers = easyvqa_files.read_answers(copy_root)
    questions = copy_root / "train" / "questions.json"
    questions.write_text("[[\"is it red?\", \"yes\", 0]")
    with pytest.raises(VlkitError, match="not valid JSON"):
        easyvqa_files.read_split(copy_root, "train", answers)
    questions.write_text(json.dumps({"questions": [], "info": {}}))
    with pytest.raises(VlkitError, match=r"expected a JSON list of \[question, answer, image_id\].*questions"):
        easyvqa_files.read_split(copy_root, "train", answers)
    questions.write_text(json.dumps([["is it red?", "yes", "zero"]]))
    with pytest.raises(VlkitError, match="item 0"):
        easyvqa_files.read_split(copy_root, "train", answers)
    questions.write_text(json.dumps([["   ", "yes", 0]]))
    with pytest.raises(VlkitError, match="empty question"):
        easyvqa_files.read_split(copy_root, "train", answers)
    questions.write_text(json.dumps([["is it red?", "maybe", 0]]))
    with pytest.raises(VlkitError, match="maybe"):
        easyvqa_files.read_split(copy_root, "train", answers)


def test_missing_image_is_reported_before_training(copy_root):
    (copy_root / "train" / "images" / "3.png").unlink()
    with pytest.raises(VlkitError, match=r"1 image file\(s\).*3\.png"):
        easyvqa_files.read_split(copy_root, "train", easyvqa_files.read_answers(copy_root))


def test_corrupt_image_names_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(VlkitError, match="cannot decode image .*bad.png"):
        load_rgb(bad)
    with pytest.raises(VlkitError, match="not found"):
        load_rgb(tmp_path / "none.png")


def test_validation_split_holds_out_whole_images():
    image_ids = [i // 7 for i in range(700)]  # 100 images, 7 questions each
    train, val = split_by_image(image_ids, 0.1, seed=0)
    train_images = {image_ids[i] for i in train}
    val_images = {image_ids[i] for i in val}
    assert not train_images & val_images
    assert len(val_images) == 10 and len(val) == 70
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(700))
    assert (split_by_image(image_ids, 0.1, seed=0)[1] == val).all()
    with pytest.raises(VlkitError, match="val_fraction"):
        split_by_image(image_ids, 1.0, seed=0)


def test_data_module_reads_test_first_then_val(shapes_root):
    from conftest import vqa_config
    from vlkit.vqa.task import VQATask

    datamodule = VQATask().build_datamodule(vqa_config(f"data.root={shapes_root}", "data.batch_size=8"))
    assert len(datamodule.split("test")) == 15 * 8
    assert len(datamodule.split("val")) + len(datamodule.split("train")) == 60 * 8
