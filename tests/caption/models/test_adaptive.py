"""adaptive: the paper's equations written out by hand, attention + beta summing to 1, the sentinel gate,
W_v V once per batch, shapes and parameter count."""

import pytest
import torch
from caption_model_fixtures import VOCAB, build, caption_batch

from vlkit.caption.models.adaptive import AdaptiveOptions
from vlkit.core.errors import InvalidValue

TINY = AdaptiveOptions(embed_dim=6, hidden_dim=10, attention_dim=7, grid_size=3)
LENGTHS = [5, 2, 4, 3]


def paper_step(w: dict[str, torch.Tensor], a: torch.Tensor, h: torch.Tensor, m: torch.Tensor, words: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lu et al. 2017's equations without dropout over regions a (B, k, D), the previous h and memory m (B, d) ->
    p's logits (B, V), alpha_hat (B, k + 1), h, m, and the sentinel gate g (B, d)."""
    v = torch.relu(a @ w["W_a.weight"].T + w["W_a.bias"])  # (B, k, d)
    v_g = torch.relu(a.mean(1) @ w["W_b.weight"].T + w["W_b.bias"])
    x = torch.cat([w["embedding.weight"][words], v_g], dim=1)
    gates = x @ w["lstm.weight_ih"].T + w["lstm.bias_ih"] + h @ w["lstm.weight_hh"].T + w["lstm.bias_hh"]
    i, f, cand, o = gates.chunk(4, dim=1)
    m_new = torch.sigmoid(f) * m + torch.sigmoid(i) * torch.tanh(cand)
    h_new = torch.sigmoid(o) * torch.tanh(m_new)
    g = torch.sigmoid(x @ w["W_x.weight"].T + w["W_x.bias"] + h @ w["W_h.weight"].T)
    s = g * torch.tanh(m_new)
    wg_h = h_new @ w["W_g.weight"].T
    z = (torch.tanh(v @ w["W_v.weight"].T + wg_h[:, None, :]) @ w["w_h.weight"].T)[:, :, 0]  # (B, k)
    z_s = torch.tanh(s @ w["W_s.weight"].T + wg_h) @ w["w_h.weight"].T  # (B, 1)
    alpha_hat = torch.softmax(torch.cat([z, z_s], dim=1), dim=1)
    beta = alpha_hat[:, -1:]
    c = (torch.softmax(z, dim=1)[:, :, None] * v).sum(1)  # attention over the regions alone
    c_hat = beta * s + (1 - beta) * c
    return (c_hat + h_new) @ w["W_p.weight"].T + w["W_p.bias"], alpha_hat, h_new, m_new, g


def test_steps_equal_the_papers_equations_and_beta_is_one_minus_the_attention():
    model = build("adaptive", TINY)
    images, captions, _ = caption_batch(LENGTHS)
    weights = model.state_dict()
    with torch.no_grad():
        encoded = model.encode(images)
        context, state = model.start(encoded)
        h = m = torch.zeros(4, 10)
        for t in range(3):
            logits, state, attention = model.step(context, state, captions[:, t])
            expected, alpha_hat, h, m, _ = paper_step(weights, encoded, h, m, captions[:, t])
            torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)
            torch.testing.assert_close(attention, alpha_hat[:, :-1], rtol=0, atol=1e-6)
            torch.testing.assert_close(1 - attention.sum(dim=1), alpha_hat[:, -1], rtol=0, atol=1e-6)
            torch.testing.assert_close(state["c"], m, rtol=0, atol=1e-6)


def test_attention_and_beta_sum_to_one_with_beta_strictly_inside():
    model = build("adaptive", TINY)
    outputs = model(*caption_batch(LENGTHS))
    assert outputs["logits"].shape == (4, 4, VOCAB) and outputs["attention"].shape == (4, 4, 9)
    total = outputs["attention"].sum(dim=2)
    assert torch.all(total > 0) and torch.all(total < 1)  # beta = 1 - total, the sentinel's share


def test_sentinel_gate_decides_how_much_the_word_reads_the_image():
    model = build("adaptive", TINY)
    images, captions, _ = caption_batch(LENGTHS)
    with torch.no_grad():
        model.W_s.weight.zero_()
        model.w_h.weight.fill_(3.0)
        model.W_v.weight.fill_(-5.0)  # regions score far below the sentinel: beta -> 1
        context, state = model.start(model.encode(images))
        logits, _, attention = model.step(context, state, captions[:, 0])
        other_context, _ = model.start(model.encode(images.flip(-1)))  # other regions, same global vector
        other_context["v_g"] = context["v_g"]
        other_logits, _, _ = model.step(other_context, state, captions[:, 0])
    assert torch.all(attention.sum(dim=1) < 1e-3)
    torch.testing.assert_close(other_logits, logits, rtol=0, atol=1e-2)  # the word ignores the regions


def test_regions_are_projected_once_per_batch():
    model = build("adaptive", TINY)
    calls = []
    model.W_v.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        model(*caption_batch(LENGTHS))
    assert len(calls) == 1


def test_dropout_is_active_in_training_only():
    model = build("adaptive", TINY)
    batch = caption_batch(LENGTHS)
    with torch.no_grad():
        torch.testing.assert_close(model(*batch)["logits"], model(*batch)["logits"], rtol=0, atol=0)
        model.train()
        assert not torch.equal(model(*batch)["logits"], model(*batch)["logits"])


def test_parameter_count_by_hand():
    vocab, embed, d, k, feature = 9490, 512, 512, 512, 16
    model = build("adaptive", AdaptiveOptions(grid_size=2), vocab_size=vocab)
    expected = (2 * (feature * d + d)  # W_a, W_b
                + vocab * embed  # embedding
                + 4 * d * (embed + d) + 4 * d * d + 2 * 4 * d  # lstm (LSTMCell)
                + (embed + d) * d + d + d * d  # W_x, W_h
                + 3 * d * k + k  # W_v, W_g, W_s, w_h
                + d * vocab + vocab)  # W_p
    encoder = sum(p.numel() for p in model.encoder.parameters())
    assert sum(p.numel() for p in model.parameters()) - encoder == expected


def test_options_are_checked():
    with pytest.raises(InvalidValue, match="grid_size"):
        AdaptiveOptions(grid_size=0)
