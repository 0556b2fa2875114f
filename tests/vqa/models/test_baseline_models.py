"""The feature baselines (bow, concat_mean, lstm_spatial, lstm_qatt, qguided_att): shapes, masking,
parameter counts by hand, deterministic eval, a tiny overfit, and each model's own rule by hand."""

import pytest
import torch

from conftest import build_vqa_model, vqa_config
from vlkit.nn.pooling import masked_mean

MODELS = ["bow", "concat_mean", "lstm_spatial", "lstm_qatt", "qguided_att"]
D, VOCAB, ANSWERS = 16, 40, 6


def tiny(name: str, **changes) -> torch.nn.Module:
    """The model at the reference layout but tiny widths, dropout off, seeded."""
    widths = {"bow": dict(embed_dim=24)}.get(name, dict(embed_dim=12, hidden_dim=20, attention_dim=10,
                                                          classifier_dim=32, dropout=0.0))
    if name == "concat_mean":
        widths = dict(embed_dim=12, classifier_dim=32, dropout=0.0)
    widths.update(changes)
    config = vqa_config("data.dataset=vqa", f"model.name={name}", f"model.feature_dim={D}",
                        *[f"model.{k}={v}" for k, v in widths.items()])
    torch.manual_seed(0)
    return build_vqa_model(name, config.model, vocab_size=VOCAB, num_answers=ANSWERS).eval()


def batch(seed: int = 0) -> dict[str, torch.Tensor]:
    """3 questions of lengths 5, 2, 1 over 7 feature rows of which 7, 3 and 1 are real."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([5, 2, 1])
    tokens = torch.randint(2, VOCAB, (3, 5), generator=g)
    tokens[torch.arange(5)[None] >= lengths[:, None]] = 0
    rows = torch.tensor([7, 3, 1])
    return {"features": torch.randn(3, 7, D, generator=g), "feature_mask": torch.arange(7)[None] < rows[:, None],
            "tokens": tokens, "lengths": lengths}


@pytest.mark.parametrize("name", MODELS)
def test_shapes_and_deterministic_eval(name):
    net, b = tiny(name), batch()
    first = net(b)
    assert first["logits"].shape == (3, ANSWERS)
    torch.testing.assert_close(net(b)["logits"], first["logits"], rtol=0, atol=0)


@pytest.mark.parametrize("name", MODELS)
def test_padding_rows_and_tokens_change_nothing(name):
    net, b = tiny(name), batch()
    expected = net(b)["logits"]
    more = dict(b)
    features = b["features"].clone()
    features[~b["feature_mask"]] = 55.0  # whatever sits in padded rows is ignored
    more["features"] = torch.cat([features, torch.randn(3, 4, D) * 10], dim=1)  # 4 more padded rows
    more["feature_mask"] = torch.cat([b["feature_mask"], torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    more["tokens"] = torch.cat([b["tokens"], torch.zeros(3, 3, dtype=torch.long)], dim=1)
    torch.testing.assert_close(net(more)["logits"], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_overfits_a_tiny_set(name):
    net, b = tiny(name), batch()
    answers = torch.tensor([1, 4, 2])
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(60):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(b)["logits"], answers)
        loss.backward()
        optimizer.step()
    net.eval()
    assert net(b)["logits"].argmax(dim=1).tolist() == answers.tolist()
    assert loss.item() < 0.05


def lstm_parameters(inputs: int, hidden: int) -> int:
    """A one-layer nn.LSTM: four gates, each W_ih (hidden x inputs), W_hh (hidden x hidden), b_ih and b_hh."""
    return 4 * (inputs * hidden + hidden * hidden + 2 * hidden)


@pytest.mark.parametrize("name, expected", [
    # iBOWIMG: bag (V) -> 1024 without bias; concat with GoogLeNet 1024; one linear layer without bias.
    ("bow", 10000 * 1024 + (1024 + 1024) * 3129),
    ("concat_mean", 10000 * 300 + (512 + 300) * 1024 + 1024 + 1024 * 3129 + 3129),
    ("lstm_spatial", 10000 * 300 + lstm_parameters(300, 512) + (512 * 512 + 512) + 512 * 512 + (512 + 1)
     + (1024 * 1024 + 1024) + 1024 * 3129 + 3129),
    ("lstm_qatt", 10000 * 300 + lstm_parameters(300, 512) + (512 * 512 + 512) + 512
     + (1024 * 1024 + 1024) + 1024 * 3129 + 3129),
    ("qguided_att", 10000 * 300 + lstm_parameters(300, 512) + 2 * (512 * 128 + 128) + 128
     + (1024 * 1024 + 1024) + 1024 * 3129 + 3129),
])
def test_parameter_count_at_the_default_vqa2_sizes_by_hand(name, expected):
    config = vqa_config("data.dataset=vqa", f"model.name={name}")
    net = build_vqa_model(name, config.model, vocab_size=10000, num_answers=3129)
    assert sum(p.numel() for p in net.parameters()) == expected


def test_masked_mean_by_hand():
    values = torch.tensor([[[1.0, 2.0], [3.0, 6.0], [100.0, 100.0]], [[5.0, 7.0], [0.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    torch.testing.assert_close(masked_mean(values, mask), torch.tensor([[2.0, 4.0], [0.0, 0.0]]))


def test_bow_is_a_binary_bag_through_two_bias_free_linear_maps():
    net = tiny("bow", embed_dim=2)
    with torch.no_grad():
        net.word_embed.zero_()
        net.word_embed[5] = torch.tensor([1.0, 0.0])
        net.word_embed[7] = torch.tensor([0.0, 2.0])
        net.classifier.weight.zero_()
        net.classifier.weight[0, :2] = torch.tensor([1.0, 1.0])  # sum of the question embedding
        net.classifier.weight[1, 2:] = 1.0  # sum of the mean image feature
    tokens = torch.tensor([[5, 5, 7, 5, 0], [7, 0, 0, 0, 0]])
    features = torch.zeros(2, 2, D)
    features[0, 0], features[0, 1], features[1, 0] = 1.0, 3.0, 0.5
    out = net({"tokens": tokens, "lengths": torch.tensor([4, 1]), "features": features,
               "feature_mask": torch.tensor([[True, True], [True, False]])})["logits"]
    # word 5 occurs three times but counts once: 1 + 2 = 3; the image mean is 2 (per channel) x 16 channels.
    torch.testing.assert_close(out[:, :2], torch.tensor([[3.0, 2.0 * D], [2.0, 0.5 * D]]))
    assert not any(name.endswith("bias") for name, _ in net.named_parameters())


def classifier_input(net: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The (B, D + question) vector that `net` hands to its classifier MLP for `inputs`."""
    seen = []
    handle = net.classifier.register_forward_pre_hook(lambda _module, args: seen.append(args[0]))
    with torch.no_grad():
        net(inputs)
    handle.remove()
    return seen[0]


def test_concat_mean_takes_means_not_sums():
    net = tiny("concat_mean", embed_dim=2)
    with torch.no_grad():
        net.embedding.weight.zero_()
        net.embedding.weight[5] = torch.tensor([1.0, 0.0])
        net.embedding.weight[7] = torch.tensor([0.0, 3.0])
    features = torch.zeros(1, 3, D)
    features[0, 0], features[0, 1], features[0, 2] = 1.0, 3.0, 55.0  # the third row is padding
    fused = classifier_input(net, {"tokens": torch.tensor([[5, 7, 7, 0]]), "lengths": torch.tensor([3]),
                                   "features": features, "feature_mask": torch.tensor([[True, True, False]])})
    # image: (1 + 3) / 2 = 2 per channel; question: ([1, 0] + 2 x [0, 3]) / 3 words = [1/3, 2].
    torch.testing.assert_close(fused, torch.cat([torch.full((1, D), 2.0), torch.tensor([[1 / 3, 2.0]])], dim=1))


def test_lstm_spatial_image_vector_is_the_mean_of_gated_cells():
    net, b = tiny("lstm_spatial"), batch()
    mask = b["feature_mask"]
    with torch.no_grad():
        net.gate.weight.zero_()
        net.gate.bias.fill_(-40.0)  # every gate shut: the image part vanishes
        assert classifier_input(net, b)[:, :D].abs().max() < 1e-12
        net.gate.bias.fill_(40.0)  # every gate open: the plain mean of the real rows
        open_mean = classifier_input(net, b)[:, :D]
        net.gate.bias.fill_(0.0)  # every gate at sigmoid(0) = 1/2: half the mean
        half_mean = classifier_input(net, b)[:, :D]
    by_hand = torch.stack([b["features"][i, mask[i]].mean(dim=0) for i in range(3)])
    torch.testing.assert_close(open_mean, by_hand)
    torch.testing.assert_close(half_mean, by_hand / 2)


def test_lstm_qatt_question_is_the_attention_weighted_sum_of_lstm_outputs():
    net, b = tiny("lstm_qatt"), batch()
    with torch.no_grad():
        attention = net(b)["word_attention"]  # (B, T)
        question = classifier_input(net, b)[:, D:]  # (B, H)
        for i, length in enumerate(b["lengths"].tolist()):
            outputs, _ = net.lstm(net.embedding(b["tokens"][i:i + 1, :length]))  # (1, length, H), no padding at all
            scores = net.word_score(torch.tanh(net.word_proj(outputs[0]))).squeeze(-1)  # (length,)
            torch.testing.assert_close(attention[i, :length], torch.softmax(scores, dim=0))
            torch.testing.assert_close(question[i], (attention[i, :length, None] * outputs[0]).sum(dim=0))


def test_lstm_spatial_gates_are_independent_sigmoids_zero_on_padding():
    gates = tiny("lstm_spatial")(batch())["attention"]  # (B, 1, K)
    mask = batch()["feature_mask"]
    assert gates.shape == (3, 1, 7)
    assert torch.all(gates[:, 0][mask] > 0) and torch.all(gates[:, 0][mask] < 1)
    assert torch.all(gates[:, 0][~mask] == 0)


def test_lstm_qatt_word_attention_is_a_softmax_over_real_words():
    weights = tiny("lstm_qatt")(batch())["word_attention"]  # (B, T)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3))
    assert torch.all(weights[torch.arange(5)[None] >= batch()["lengths"][:, None]] == 0)
    assert weights[2, 0] == 1.0  # a one-word question attends to its word


def test_feature_dim_mismatch_is_a_clear_error():
    net = tiny("concat_mean")
    b = batch()
    b["features"] = torch.randn(3, 7, D + 1)
    with pytest.raises(ValueError, match="model.feature_dim"):
        net(b)
