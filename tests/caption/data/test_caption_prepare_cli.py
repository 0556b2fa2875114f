"""`vlkit caption prepare`: a synthetic Karpathy set prepared end to end, a rerun that finds it done, and refusals."""

import json

import numpy as np

from conftest import invoke_cli
from vlkit.synth.captions import write_synthetic_karpathy


def test_prepare_writes_every_image_and_a_rerun_finds_them_done(tmp_path):
    karpathy = write_synthetic_karpathy(tmp_path / "synth", n_train=12, n_val=3, n_test=3, size=32, seed=1)
    args = ["caption", "prepare", "--karpathy", str(karpathy), "--images", str(karpathy.parent), "--out",
            str(tmp_path / "prepared"), "--min-word-freq", "1", "--image-size", "32", "--json"]
    manifest = json.loads(invoke_cli(args, cwd=tmp_path).stdout)
    assert manifest["complete"] and manifest["rows_done"] == 18
    assert manifest["splits"] == {"train": 12, "val": 3, "test": 3}
    images = np.load(tmp_path / "prepared" / "val" / "images.npy", mmap_mode="r")
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.uint8 and images.any()
    again = invoke_cli(args[:-1], cwd=tmp_path)
    assert again.stdout.strip() == f"18 of 18 images prepared -> {tmp_path / 'prepared'}"


def test_prepare_refuses_an_output_folder_that_is_an_input_a_vqa_file_and_a_missing_images_folder(tmp_path):
    karpathy = write_synthetic_karpathy(tmp_path / "synth", n_train=4, n_val=1, n_test=1, size=32, seed=1)
    same = invoke_cli(["caption", "prepare", "--karpathy", str(karpathy), "--images", str(karpathy.parent),
                       "--out", str(karpathy.parent)], cwd=tmp_path, check=False)
    assert same.returncode == 2 and same.stderr.strip().splitlines() == [
        f"error: --out {karpathy.parent} is an input; give a new folder for the prepared data"]
    questions = tmp_path / "v2_OpenEnded_mscoco_val2014_questions.json"
    questions.write_text(json.dumps({"questions": [{"image_id": 1, "question": "what?", "question_id": 1}]}))
    wrong = invoke_cli(["caption", "prepare", "--karpathy", str(questions), "--images", str(tmp_path), "--out",
                        str(tmp_path / "out")], cwd=tmp_path, check=False)
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: ") and "VQA questions" in wrong.stderr
    assert not (tmp_path / "out").exists()
    nowhere = invoke_cli(["caption", "prepare", "--karpathy", str(karpathy), "--images", str(tmp_path / "nowhere"),
                          "--out", str(tmp_path / "out")], cwd=tmp_path, check=False)
    assert nowhere.returncode == 2 and nowhere.stderr.strip().splitlines() == [
        f"error: images folder not found: {tmp_path / 'nowhere'} (give the folder the Karpathy file's image paths "
        "are under)"]
    assert not (tmp_path / "out").exists()
