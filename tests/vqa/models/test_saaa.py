"""SAAA: shapes, parameter count by hand, reference names, soft cross-entropy, pytorch-vqa checkpoint import."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from color_questions import make_data
from conftest import REPO, build_vqa_model, invoke_cli, vqa_config, vqa_module
from reference_forward import pytorch_vqa_logits
from vlkit.core.predictor import load_run
from vlkit.text.tokenizers import pytorch_vqa_tokenize
from vlkit.vqa.models.saaa import SaaaOptions
from vlkit.vqa.task import VQATask

TINY = dict(feature_dim=8, embed_dim=6, question_dim=12, attention_dim=10, glimpses=2, classifier_dim=16,
            dropout=0.0)
LAYOUTS = json.loads((Path(__file__).resolve().parents[2] / "data" / "reference_layouts.json").read_text())


def batch():
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([5, 2, 1])
    tokens = torch.randint(1, 30, (3, 5), generator=g)
    tokens[torch.arange(5)[None] >= lengths[:, None]] = 0
    return {"features": torch.rand(3, 9, 8, generator=g), "feature_mask": torch.ones(3, 9, dtype=torch.bool),
            "tokens": tokens, "lengths": lengths}


def test_shapes_attention_and_reference_names():
    torch.manual_seed(0)
    net = build_vqa_model("saaa", SaaaOptions(**TINY), vocab_size=30, num_answers=5).eval()
    out = net(batch())
    assert out["logits"].shape == (3, 5) and out["attention"].shape == (3, 2, 9)
    torch.testing.assert_close(out["attention"].sum(dim=2), torch.ones(3, 2))
    names = set(net.state_dict())
    for name in ["text.embedding.weight", "text.lstm.weight_hh_l0", "attention.v_conv.weight", "attention.q_lin.bias",
                 "attention.x_conv.weight", "classifier.lin1.weight", "classifier.lin2.bias"]:
        assert name in names, name
    assert "attention.v_conv.bias" not in names  # the 1x1 conv on the image has no bias


def test_deterministic_eval_and_padding_changes_nothing():
    torch.manual_seed(0)
    net = build_vqa_model("saaa", SaaaOptions(**TINY), vocab_size=30, num_answers=5).eval()
    b = batch()
    b["feature_mask"][1, 6:] = False  # the second sample has 6 real cells
    expected = net(b)["logits"]
    torch.testing.assert_close(net(b)["logits"], expected, rtol=0, atol=0)
    more = dict(b)
    features = b["features"].clone()
    features[~b["feature_mask"]] = 77.0  # whatever sits in padded cells is ignored
    more["features"] = torch.cat([features, torch.rand(3, 2, 8) * 5], dim=1)
    more["feature_mask"] = torch.cat([b["feature_mask"], torch.zeros(3, 2, dtype=torch.bool)], dim=1)
    more["tokens"] = torch.cat([b["tokens"], torch.zeros(3, 4, dtype=torch.long)], dim=1)
    torch.testing.assert_close(net(more)["logits"], expected, rtol=1e-5, atol=1e-5)
    assert torch.all(net(more)["attention"][~more["feature_mask"][:, None, :].expand(-1, 2, -1)] == 0)


def test_overfits_a_tiny_set():
    torch.manual_seed(0)
    net = build_vqa_model("saaa", SaaaOptions(**TINY), vocab_size=30, num_answers=5)
    b, answers = batch(), torch.tensor([3, 0, 4])
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(80):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(b)["logits"], answers)
        loss.backward()
        optimizer.step()
    assert net.eval()(b)["logits"].argmax(dim=1).tolist() == answers.tolist()
    assert loss.item() < 0.05


def test_parameter_count_by_hand():
    """pytorch-vqa's own `Net(15000)` has the same 19,824,602 (checked against the reference code, 2026-11-22)."""
    net = build_vqa_model("saaa", SaaaOptions(), vocab_size=15000, num_answers=3000)
    e, q, d, m = 300, 1024, 2048, 512
    expected = (15000 * e + 4 * (e * q + q * q + 2 * q) + d * m + (q * m + m) + (m * 2 + 2)
                + (2 * d + q) * 1024 + 1024 + 1024 * 3000 + 3000)
    assert sum(p.numel() for p in net.parameters()) == expected == 19_824_602


def test_soft_cross_entropy_loss_by_hand():
    config = vqa_config(*[f"model.{k}={v}" for k, v in TINY.items()], config_file=REPO / "configs/vqa/saaa_vqa2.yaml")
    module = vqa_module(config, vocab_size=30, num_answers=5)
    logits = torch.zeros(1, 5)
    logits[0, 2] = np.log(4.0)  # p = [1, 1, 4, 1, 1] / 8
    module.model.forward = lambda b: {"logits": logits}
    targets = torch.tensor([[0.0, 0.3, 0.7, 0.0, 0.0]])  # 3 and 7 of 10 humans
    loss = module.training_step({"targets": targets, "index": torch.tensor([0])}, 0)  # the stubbed forward reads none
    assert loss.item() == pytest.approx(-(0.3 * np.log(1 / 8) + 0.7 * np.log(4 / 8)))
    optimizer = module.configure_optimizers()
    assert optimizer["lr_scheduler"]["interval"] == "step"
    assert optimizer["lr_scheduler"]["scheduler"].lr_lambdas[0](50000) == pytest.approx(0.5)


def test_import_a_pytorch_vqa_checkpoint(tmp_path):
    parts = make_data(tmp_path, train_images=4, val_images=4, test_images=2)
    tokens = ["what", "color", "is", "the", "ball", "of"]
    answers = ["red", "blue", "green", "yellow"]
    torch.manual_seed(5)
    reference = build_vqa_model("saaa", SaaaOptions(**TINY), vocab_size=len(tokens) + 1, num_answers=4).eval()
    with torch.no_grad():  # biases away from their zero initialisation
        for parameter in reference.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    saved_weights = {f"module.{k}": v for k, v in reference.state_dict().items()}  # as saved under DataParallel
    # what pytorch-vqa's own modules of these widths hold: the checkpoint below has the reference's layout
    assert {k.removeprefix("module."): list(v.shape) for k, v in saved_weights.items()} == \
        LAYOUTS["saaa_tiny"]["state"]
    torch.save({"name": "tiny", "config": {}, "eval": {}, "weights": saved_weights,
                "vocab": {"question": {t: i + 1 for i, t in enumerate(tokens)},
                          "answer": {a: i for i, a in enumerate(answers)}}}, tmp_path / "tiny.pth")
    out = tmp_path / "runs" / "vqa" / "saaa-imported"
    overrides = [f"data.root={tmp_path}", f"data.features={tmp_path}/store", *[f"model.{k}={v}" for k, v in TINY.items()]]
    invoke_cli(["vqa", "import", str(tmp_path / "tiny.pth"), "--from", "pytorch-vqa", "--config",
                "configs/vqa/saaa_vqa2.yaml", "--out", str(out), *overrides], cwd=REPO)
    invoke_cli(["vqa", "evaluate", str(out), "--split", "val", "--json"], cwd=tmp_path)

    # pytorch-vqa's own forward, written out from its checkpoint (0 = an unknown word there), on a 3 x 3
    # grid: vlkit's imported run, with its re-laid-out vocabulary, must give the same logits.
    questions = ["what color is the ball?", "is the zorblax of the ball red?", "what?"]
    reference_ix = [[tokens.index(w) + 1 if w in tokens else 0 for w in pytorch_vqa_tokenize(q)] for q in questions]
    grid = torch.rand(3, TINY["feature_dim"], 3, 3)
    expected = pytorch_vqa_logits({k.removeprefix("module."): v for k, v in saved_weights.items()}, reference_ix, grid)
    trained = load_run(VQATask(), out)
    tokens_ix, lengths = trained.vocabularies.questions.encode_batch(questions, 20)
    assert (tokens_ix == 1).sum(dim=1).tolist() == [0, 2, 0]  # "zorblax" and "red" are UNK (1) in vlkit
    with torch.no_grad():
        logits = trained.module.model({
            "features": grid.flatten(2).transpose(1, 2), "feature_mask": torch.ones(3, 9, dtype=torch.bool),
            "tokens": tokens_ix, "lengths": lengths})["logits"]
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)
    predictions = {r["question_id"]: r["answer"] for r in json.loads((out / "predictions_val.json").read_text())}

    from vlkit.features.store import FeatureStore

    store = FeatureStore(tmp_path / "store")
    for question in parts["val"]:
        ids = [tokens.index(w) + 1 if w in tokens else 0 for w in pytorch_vqa_tokenize(question.question)]
        rows = store.get([question.image_id])
        with torch.no_grad():
            logits = reference({"features": torch.from_numpy(rows.features.astype(np.float32)),
                                "feature_mask": torch.from_numpy(rows.mask), "tokens": torch.tensor([ids]),
                                "lengths": torch.tensor([len(ids)])})["logits"]
        assert predictions[question.question_id] == answers[int(logits.argmax())]
