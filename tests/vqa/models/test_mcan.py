"""MCAN: shapes, masking, parameter count by hand, reference parameter names, overfitting a tiny set."""

import torch

from conftest import build_vqa_model
from vlkit.vqa.models.mcan import McanLargeOptions, McanOptions


def tiny_options(**changes):
    values = dict(feature_dim=16, embed_dim=12, hidden_size=32, heads=4, layers=2, dropout=0.0, flat_mlp_size=16,
                  flat_glimpses=1, flat_out_size=48)
    values.update(changes)
    return McanOptions(**values)


def batch(questions=3, regions=5, length=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([6, 3, 1])[:questions]
    tokens = torch.randint(2, 50, (questions, length), generator=g)
    tokens[torch.arange(length)[None] >= lengths[:, None]] = 0
    boxes = torch.tensor([5, 2, 4])[:questions]
    return {"features": torch.randn(questions, regions, 16, generator=g),
            "feature_mask": torch.arange(regions)[None] < boxes[:, None], "tokens": tokens, "lengths": lengths}


def model(**changes):
    torch.manual_seed(0)
    return build_vqa_model("mcan_small", tiny_options(**changes), vocab_size=50, num_answers=7).eval()


def test_shapes_and_deterministic_eval():
    net, b = model(), batch()
    first = net(b)["logits"]
    assert first.shape == (3, 7)
    torch.testing.assert_close(net(b)["logits"], first, rtol=0, atol=0)


def test_padding_regions_and_tokens_change_nothing():
    net, b = model(), batch()
    expected = net(b)["logits"]
    more = dict(b)
    more["features"] = torch.cat([b["features"], torch.randn(3, 4, 16) * 10], dim=1)  # 4 more padded regions
    more["feature_mask"] = torch.cat([b["feature_mask"], torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    more["tokens"] = torch.cat([b["tokens"], torch.zeros(3, 3, dtype=torch.long)], dim=1)
    padded_rows = b["features"].clone()
    padded_rows[~b["feature_mask"]] = 123.0  # whatever sits in padded rows is ignored
    more["features"][:, :5] = padded_rows
    torch.testing.assert_close(net(more)["logits"], expected, rtol=1e-5, atol=1e-5)


def test_reference_parameter_names():
    names = set(model().state_dict())
    for name in ["embedding.weight", "lstm.weight_ih_l0", "img_feat_linear.weight",
                 "backbone.enc_list.0.mhatt.linear_q.weight", "backbone.enc_list.1.ffn.mlp.fc.linear.weight",
                 "backbone.enc_list.0.norm1.a_2", "backbone.dec_list.1.mhatt2.linear_merge.bias",
                 "backbone.dec_list.0.norm3.b_2", "attflat_img.mlp.fc.linear.weight", "attflat_lang.mlp.linear.bias",
                 "attflat_img.linear_merge.weight", "proj_norm.a_2", "proj.weight"]:
        assert name in names, name


def test_parameter_count_of_mcan_small_by_hand():
    """Counted from the architecture; mcan-vqa's own `Net` with these sizes has the same 57,640,891
    (checked by building the reference code outside this repository, 2026-11-22)."""
    net = build_vqa_model("mcan_small", McanOptions(), vocab_size=20000, num_answers=3129)
    assert sum(p.numel() for p in net.parameters()) == mcan_parameters(hidden=512, flat_out=1024) == 57_640_891


def test_parameter_count_of_mcan_large_by_hand():
    net = build_vqa_model("mcan_large", McanLargeOptions(), vocab_size=20000, num_answers=3129)
    assert net.proj.in_features == 2048 and net.backbone.enc_list[0].ffn.mlp.fc.linear.out_features == 4096
    assert sum(p.numel() for p in net.parameters()) == mcan_parameters(hidden=1024, flat_out=2048) == 201_551_291


def mcan_parameters(hidden: int, flat_out: int, vocab: int = 20000, answers: int = 3129) -> int:
    """MCAN's parameter count from its architecture: LSTM, 6 SA + 6 SGA layers (FFN 4H), two AttFlat, head."""
    h, ff, d, e = hidden, 4 * hidden, 2048, 300
    attention = 4 * (h * h + h)
    ffn = (h * ff + ff) + (ff * h + h)
    norm = 2 * h
    sa, sga = attention + ffn + 2 * norm, 2 * attention + ffn + 3 * norm
    att_flat = (h * 512 + 512) + (512 * 1 + 1) + (h * flat_out + flat_out)
    return (vocab * e + 4 * (e * h + h * h + 2 * h) + (d * h + h) + 6 * (sa + sga) + 2 * att_flat
            + 2 * flat_out + (flat_out * answers + answers))


def test_overfits_a_tiny_set():
    net, b = model(), batch()
    net.train()
    targets = torch.zeros(3, 7)
    targets[0, 1], targets[1, 4], targets[2, 6] = 1.0, 1.0, 0.9
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(150):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(b)["logits"], targets, reduction="sum")
        loss.backward()
        optimizer.step()
    net.eval()
    assert net(b)["logits"].argmax(dim=1).tolist() == [1, 4, 6]
    assert loss.item() < 0.5
