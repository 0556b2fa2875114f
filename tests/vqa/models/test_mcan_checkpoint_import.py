"""Importing a mcan-vqa checkpoint: the reference's key layout (DataParallel prefix), vocabulary and answer dict."""

import json
from pathlib import Path

import numpy as np
import torch

from color_questions import make_data
from conftest import REPO, build_vqa_model, invoke_cli
from reference_forward import mcan_vqa_logits
from vlkit.core.predictor import load_run
from vlkit.synth.vqa_official_files import SynthQuestion, write_vqa_part
from vlkit.vqa.data.question_vocabularies import MCAN_VOCAB_SPLITS, question_texts, question_vocabulary
from vlkit.vqa.models.mcan import McanOptions
from vlkit.vqa.task import VQATask

TINY = dict(feature_dim=8, embed_dim=8, hidden_size=16, heads=2, layers=2, flat_mlp_size=8, flat_out_size=16)
LAYOUTS = json.loads((Path(__file__).resolve().parents[2] / "data" / "reference_layouts.json").read_text())


def test_import_then_evaluate_gives_the_reference_models_answers(tmp_path):
    parts = make_data(tmp_path, train_images=6, val_images=4, test_images=2)
    write_vqa_part(tmp_path, "test", [SynthQuestion(5000, 2000, "Which hue is the sphere?", "which", "other", ())])
    write_vqa_part(tmp_path, "vg", [SynthQuestion(6000, 1, "What shade is the ball?", "what", "other", ("red",) * 10)])
    vocab = question_vocabulary(question_texts(tmp_path, MCAN_VOCAB_SPLITS), "mcan")
    # first appearance over train, val, test2015, VG: the test and VG words come last
    assert vocab.itos[:7] == ["<pad>", "<unk>", "what", "color", "is", "the", "ball"]
    assert vocab.itos.index("which") > vocab.itos.index("of") and vocab.itos[-1] == "shade"

    answers = ["red", "blue", "green", "yellow"]
    (tmp_path / "answer_dict.json").write_text(json.dumps([{a: i for i, a in enumerate(answers)},
                                                           {str(i): a for i, a in enumerate(answers)}]))
    torch.manual_seed(3)
    reference = build_vqa_model("mcan_small", McanOptions(**TINY), vocab_size=len(vocab), num_answers=4).eval()
    with torch.no_grad():  # weights unlike any initialisation: LayerNorm gains and biases away from 1 and 0
        for parameter in reference.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    state = {f"module.{k}": v for k, v in reference.state_dict().items()}  # as saved under DataParallel
    # what mcan-vqa's own Net of these widths holds: the checkpoint below has the reference's layout
    assert {k.removeprefix("module."): list(v.shape) for k, v in state.items()} == LAYOUTS["mcan_tiny"]["state"]
    torch.save({"state_dict": state, "optimizer": {}, "lr_base": 1e-4}, tmp_path / "epoch13.pkl")

    out = tmp_path / "runs" / "vqa" / "imported"
    overrides = [f"data.root={tmp_path}", f"data.features={tmp_path}/store", *[f"model.{k}={v}" for k, v in TINY.items()]]
    invoke_cli(["vqa", "import", str(tmp_path / "epoch13.pkl"), "--from", "mcan-vqa", "--config",
                "configs/vqa/mcan_small_vqa2.yaml", "--answers", str(tmp_path / "answer_dict.json"), "--out", str(out),
                *overrides], cwd=REPO)
    report = json.loads(invoke_cli(["vqa", "evaluate", str(out), "--split", "val", "--json"], cwd=tmp_path).stdout)
    predictions = json.loads((out / "predictions_val.json").read_text())
    assert report["num_questions"] == len(parts["val"]) == len(predictions)

    # mcan-vqa's own forward, written out from its checkpoint: 14 tokens zero-padded, 6 regions with zero rows
    # after each image's boxes; vlkit's imported run must give the same logits.
    questions = ["What color is the ball?", "Which hue is the sphere of the ball?", "What shade?"]
    question_ix, lengths = vocab.encode_batch(questions, 14)
    features = torch.randn(3, 6, TINY["feature_dim"])
    boxes = torch.tensor([6, 2, 4])
    features[torch.arange(6)[None] >= boxes[:, None]] = 0.0
    expected = mcan_vqa_logits({k.removeprefix("module."): v for k, v in state.items()}, question_ix, features,
                               heads=TINY["heads"])
    imported = load_run(VQATask(), out).module.model
    with torch.no_grad():
        logits = imported({"features": features, "feature_mask": torch.arange(6)[None] < boxes[:, None],
                           "tokens": question_ix, "lengths": lengths})["logits"]
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)

    from vlkit.features.store import FeatureStore

    store = FeatureStore(tmp_path / "store")
    by_id = {q.question_id: q for q in parts["val"]}
    for row in predictions:
        question = by_id[row["question_id"]]
        tokens = torch.tensor([vocab.encode(question.question, 14)])
        features = store.get([question.image_id])
        with torch.no_grad():
            logits = reference({"features": torch.from_numpy(features.features.astype(np.float32)),
                                "feature_mask": torch.from_numpy(features.mask), "tokens": tokens,
                                "lengths": torch.tensor([tokens.shape[1]])})["logits"]
        assert row["answer"] == answers[int(logits.argmax())]

    again = invoke_cli(["vqa", "import", str(tmp_path / "epoch13.pkl"), "--from", "mcan-vqa", "--config",
                        "configs/vqa/mcan_small_vqa2.yaml", "--answers", str(tmp_path / "answer_dict.json"), "--out",
                        str(out), *overrides], cwd=REPO, check=False)
    assert again.returncode == 2 and "never overwritten" in again.stderr
    wrong = invoke_cli(["vqa", "import", str(tmp_path / "epoch13.pkl"), "--from", "mcan-vqa", "--config",
                        "configs/vqa/mcan_small_vqa2.yaml", "--answers", str(tmp_path / "answer_dict.json"), "--out",
                        str(tmp_path / "other"), *overrides, "model.hidden_size=32"], cwd=REPO, check=False)
    assert wrong.returncode == 2 and "does not fit mcan_small" in wrong.stderr
