"""Official-format VQA splits (train/val/VG/test-dev) and the data check, on generated files."""

import json

import pytest

from conftest import invoke_cli
from vlkit.core.errors import VlkitError
from vlkit.synth.vqa_official_files import SynthQuestion, write_vqa_part
from vlkit.vqa.data.splits import load_split

TRAIN = [
    SynthQuestion(1, 1, "Is the sky blue?", "is the", "yes/no", ("yes",) * 10),
    SynthQuestion(2, 1, "Is the man happy?", "is the", "yes/no", ("yes",) * 7 + ("no",) * 3),
    SynthQuestion(3, 2, "Is the dog asleep?", "is the", "yes/no", ("no",) * 10),
    SynthQuestion(4, 2, "What color is the bus?", "what color", "other", ("red",) * 10),
    SynthQuestion(5, 3, "What color is the car?", "what color", "other", ("red",) * 6 + ("blue",) * 4),
    SynthQuestion(6, 3, "How many cats are there?", "how many", "number", ("2",) * 10),
]
VAL = [
    SynthQuestion(11, 4, "Is the door open?", "is the", "yes/no", ("yes",) * 3 + ("no",) * 7),
    SynthQuestion(12, 4, "What color is the kite?", "what color", "other", ("blue",) * 10),
    SynthQuestion(13, 5, "How many dogs are in the picture?", "how many", "number", ("two",) * 4 + ("2",) * 6),
    SynthQuestion(14, 3, "Is the car parked?", "is the", "yes/no", ("no",) * 10),
]
VG = [SynthQuestion(21, 9, "What is on the table?", "what is", "other", ("cup",) * 10)]
TEST_DEV = [SynthQuestion(31, 7, "Is it raining?", "is it", "yes/no", ()),
            SynthQuestion(32, 8, "What is this?", "what is", "other", ())]


@pytest.fixture()
def vqa_root(tmp_path):
    write_vqa_part(tmp_path, "train", TRAIN)
    write_vqa_part(tmp_path, "val", VAL)
    write_vqa_part(tmp_path, "vg", VG)
    write_vqa_part(tmp_path, "test-dev", TEST_DEV)
    return tmp_path


def test_official_file_names_and_combined_splits(vqa_root):
    assert (vqa_root / "v2_OpenEnded_mscoco_train2014_questions.json").is_file()
    assert (vqa_root / "v2_mscoco_val2014_annotations.json").is_file()
    combined = load_split("train+val+vg", vqa_root)
    assert len(combined.questions) == len(combined.annotations) == 11
    assert combined.annotations[13].answers.texts[0] == "two"
    test_dev = load_split("test-dev", vqa_root)
    assert len(test_dev.questions) == 2 and test_dev.annotations is None
    with pytest.raises(VlkitError, match="cannot be combined"):
        load_split("train+test-dev", vqa_root)
    with pytest.raises(VlkitError, match="already appear"):
        load_split("train+train", vqa_root)
    with pytest.raises(VlkitError, match="unknown VQA split 'minival'"):
        load_split("minival", vqa_root)
    with pytest.raises(VlkitError, match="VQA questions file not found"):
        load_split("train", vqa_root / "elsewhere")


def test_check_report_by_hand(vqa_root):
    args = ["vqa", "check", "--root", str(vqa_root), "--train", "train", "--eval", "val", "--answers",
            "pytorch-vqa", "--json"]
    report = json.loads(invoke_cli(args, cwd=vqa_root).stdout)
    assert report["train"]["questions"] == 6 and report["train"]["images"] == 3
    assert report["eval"]["images_also_in_train"] == 1  # image 3
    assert any("both train and val" in w for w in report["warnings"])
    assert report["answer_vocabulary"]["size"] == 5  # yes, red, no, 2, blue
    assert report["answer_vocabulary"]["eval_coverage"]["best_possible_accuracy"] == 100.0
    baseline = report["majority_baseline"]
    assert baseline["answer_per_type"] == {"yes/no": "yes", "other": "red", "number": "2"}
    # yes on q11 (3 of 10 said yes) = 0.9, red on q12 = 0, 2 on q13 (two/2 normalised) = 1, yes on q14 = 0
    assert baseline["overall"] == 47.5
    assert baseline["perAnswerType"] == {"yes/no": 45.0, "other": 0.0, "number": 100.0}
    text = invoke_cli(args[:-1], cwd=vqa_root).stdout
    assert "majority-answer baseline on eval: 47.50" in text


def test_check_results_against_test_dev(vqa_root):
    results = vqa_root / "results.json"
    results.write_text(json.dumps([{"question_id": 31, "answer": "yes"}, {"question_id": 32, "answer": "cat"}]))
    args = ["vqa", "check", "--root", str(vqa_root), "--eval", "test-dev", "--results", str(results), "--json"]
    assert json.loads(invoke_cli(args, cwd=vqa_root).stdout)["results"]["matches_eval_split"]
    results.write_text(json.dumps([{"question_id": 11, "answer": "yes"}]))
    wrong = invoke_cli(args, cwd=vqa_root, check=False)
    assert wrong.returncode == 2 and "another split" in wrong.stderr


def test_check_rejects_captions_given_as_annotations(vqa_root):
    (vqa_root / "v2_mscoco_train2014_annotations.json").write_text(json.dumps(
        {"info": {}, "images": [], "annotations": [{"image_id": 1, "id": 1, "caption": "A man riding a horse."}]}))
    result = invoke_cli(["vqa", "check", "--root", str(vqa_root)], cwd=vqa_root, check=False)
    assert result.returncode == 2 and "COCO captions file" in result.stderr


def test_check_reports_images_without_features(vqa_root):
    import numpy as np

    from vlkit.features.store import StoreWriter

    writer = StoreWriter(vqa_root / "store", [1, 2, 3, 4], k_max=2, dim=3, kind="grid",
                         manifest={"source": "test", "model": "none"})
    writer.write([1, 2, 3, 4], np.ones((4, 2, 3), np.float32), [2, 2, 2, 2])
    writer.finish()
    args = ["vqa", "check", "--root", str(vqa_root), "--features", str(vqa_root / "store"), "--json"]
    report = json.loads(invoke_cli(args, cwd=vqa_root).stdout)
    assert report["train"]["images_without_features"] == 0
    assert report["eval"]["images_without_features"] == 1  # image 5
    assert any("have no features" in w and "[5]" in w for w in report["warnings"])
