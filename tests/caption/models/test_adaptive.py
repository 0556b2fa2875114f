"""adaptive: the paper's equations and the reference code's written out by hand, attention + beta summing to 1,
the sentinel gate, W_v V once per batch, shapes, parameter counts and the doubly stochastic penalty option."""

import pytest
import torch
from caption_model_fixtures import VOCAB, build, caption_batch, valid_steps

from vlkit.caption.data.word_map import WordMap
from vlkit.caption.models.adaptive import AdaptiveOptions
from vlkit.caption.run_files import CaptionVocabularies
from vlkit.caption.task import CaptionTask
from vlkit.core.config import load_config
from vlkit.core.errors import InvalidValue

TINY = AdaptiveOptions(embed_dim=6, hidden_dim=10, attention_dim=7, grid_size=3)
TINY_CODE = AdaptiveOptions(embed_dim=6, hidden_dim=10, attention_dim=7, grid_size=3, variant="code")
LENGTHS = [5, 2, 4, 3]


def lstm_cell(w: dict[str, torch.Tensor], x: torch.Tensor, h: torch.Tensor, m: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step by hand (gates in the order input, forget, cell, output) -> new h and memory m (B, d)."""
    gates = x @ w["lstm.weight_ih"].T + w["lstm.bias_ih"] + h @ w["lstm.weight_hh"].T + w["lstm.bias_hh"]
    i, f, cand, o = gates.chunk(4, dim=1)
    m_new = torch.sigmoid(f) * m + torch.sigmoid(i) * torch.tanh(cand)
    return torch.sigmoid(o) * torch.tanh(m_new), m_new


def paper_step(w: dict[str, torch.Tensor], a: torch.Tensor, h: torch.Tensor, m: torch.Tensor, words: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lu et al. 2017's equations without dropout over regions a (B, k, D), the previous h and memory m (B, d) ->
    p's logits (B, V), alpha_hat (B, k + 1), h, m, and the sentinel gate g (B, d)."""
    v = torch.relu(a @ w["W_a.weight"].T + w["W_a.bias"])  # (B, k, d)
    v_g = torch.relu(a.mean(1) @ w["W_b.weight"].T + w["W_b.bias"])
    x = torch.cat([w["embedding.weight"][words], v_g], dim=1)
    h_new, m_new = lstm_cell(w, x, h, m)
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


def code_step(w: dict[str, torch.Tensor], a: torch.Tensor, h: torch.Tensor, m: torch.Tensor, words: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """jiasenlu/AdaptiveAttention's forward without dropout (misc/img_embedding.lua, LSTM.lua, attention.lua), over
    regions a (B, k, D), the previous h and memory m (B, d) -> logits (B, V), the code's attention PI (B, 1 + k)
    with the sentinel first, h, m."""
    conv_feat = torch.relu(a @ w["W_a.weight"].T + w["W_a.bias"])  # (B, k, d)
    conv_feat_embed = conv_feat @ w["W_v.weight"].T + w["W_v.bias"]
    fc_embed = torch.relu(a.mean(1) @ w["W_b.weight"].T + w["W_b.bias"])
    x = torch.cat([torch.relu(w["embedding.weight"][words]), fc_embed], dim=1)  # lookup table -> ReLU
    h_new, m_new = lstm_cell(w, x, h, m)
    fake_region = torch.sigmoid(x @ w["W_x.weight"].T + w["W_x.bias"] + h @ w["W_h.weight"].T) * torch.tanh(m_new)
    fake_region = torch.relu(fake_region @ w["sentinel_layer.weight"].T + w["sentinel_layer.bias"])
    fake_region_embed = fake_region @ w["W_s.weight"].T + w["W_s.bias"]
    h_out_linear = torch.tanh(h_new @ w["hidden_layer.weight"].T + w["hidden_layer.bias"])
    h_out_embed = h_out_linear @ w["W_g.weight"].T + w["W_g.bias"]
    img_all = torch.cat([fake_region[:, None], conv_feat], dim=1)  # (B, 1 + k, d)
    img_all_embed = torch.cat([fake_region_embed[:, None], conv_feat_embed], dim=1)
    scores = (torch.tanh(img_all_embed + h_out_embed[:, None]) @ w["w_h.weight"].T)[:, :, 0]  # (B, 1 + k)
    pi = torch.softmax(scores, dim=1)
    atten_out = (pi[:, :, None] * img_all).sum(1) + h_out_linear
    top = torch.tanh(atten_out @ w["output_layer.weight"].T + w["output_layer.bias"])
    return top @ w["W_p.weight"].T + w["W_p.bias"], pi, h_new, m_new


def compare_steps(options: AdaptiveOptions, reference_step) -> None:
    """Run three steps of a tiny model of `options` and of `reference_step(weights, encoded, h, m, words) ->
    (logits, region weights, sentinel weight, h, m)` from the same weights; require equal results."""
    model = build("adaptive", options)
    images, captions, _ = caption_batch(LENGTHS)
    weights = model.state_dict()
    with torch.no_grad():
        encoded = model.encode(images)
        context, state = model.start(encoded)
        h = m = torch.zeros(4, 10)
        for t in range(3):
            logits, state, attention = model.step(context, state, captions[:, t])
            expected, regions, sentinel, h, m = reference_step(weights, encoded, h, m, captions[:, t])
            torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)
            torch.testing.assert_close(attention, regions, rtol=0, atol=1e-6)
            torch.testing.assert_close(1 - attention.sum(dim=1), sentinel, rtol=0, atol=1e-6)
            torch.testing.assert_close(state["c"], m, rtol=0, atol=1e-6)


def test_steps_equal_the_papers_equations_and_beta_is_one_minus_the_attention():
    def paper(weights, encoded, h, m, words):
        logits, alpha_hat, h, m, _ = paper_step(weights, encoded, h, m, words)
        return logits, alpha_hat[:, :-1], alpha_hat[:, -1], h, m

    compare_steps(TINY, paper)


def test_code_variant_steps_equal_the_reference_codes_equations():
    def code(weights, encoded, h, m, words):
        logits, pi, h, m = code_step(weights, encoded, h, m, words)
        return logits, pi[:, 1:], pi[:, 0], h, m  # the code stores the sentinel first

    compare_steps(TINY_CODE, code)


def dropout_inputs(options: AdaptiveOptions) -> list[tuple[int, ...]]:
    """The shapes of what one training step of a tiny adaptive model of `options` drops out, in order."""
    model = build("adaptive", options).train()
    images, captions, _ = caption_batch(LENGTHS)
    with torch.no_grad():
        context, state = model.start(model.encode(images))
        seen = []
        model.dropout.forward = lambda x: seen.append(tuple(x.shape)) or x
        model.step(context, state, captions[:, 0])
    return seen


def test_dropout_falls_where_the_paper_and_where_the_code_put_it():
    # paper: the word embeddings, s_t, h_t (4 captions, embed 6, d 10)
    assert dropout_inputs(TINY) == [(4, 6), (4, 10), (4, 10)]
    # code: also s'_t, h'_t, the attention's tanh layer of the 9 regions and of the sentinel (A = 7), the output layer
    assert dropout_inputs(TINY_CODE) == [(4, 6), (4, 10), (4, 10), (4, 10), (4, 10), (4, 1, 9, 7), (4, 7), (4, 10)]


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


def test_code_variant_parameter_count_by_hand():
    vocab, d, k = 9490, 512, 512
    paper = build("adaptive", AdaptiveOptions(grid_size=2), vocab_size=vocab)
    code = build("adaptive", AdaptiveOptions(grid_size=2, variant="code"), vocab_size=vocab)
    extra = 3 * (d * d + d) + 3 * k  # sentinel, hidden and output layers; biases of W_v, W_g, W_s
    assert sum(p.numel() for p in code.parameters()) - sum(p.numel() for p in paper.parameters()) == extra


def test_defaults_are_the_papers_and_options_are_checked():
    assert AdaptiveOptions().variant == "paper" and AdaptiveOptions().alpha_c == 0.0 and AdaptiveOptions().dropout == 0.5
    for bad, key in ((dict(grid_size=0), "grid_size"), (dict(variant="lua"), "variant"),
                     (dict(alpha_c=-0.5), "alpha_c"), (dict(dropout=1.0), "dropout")):
        with pytest.raises(InvalidValue, match=key):
            AdaptiveOptions(**bad)


def adaptive_module(*overrides: str):
    """A training module around a tiny adaptive model over a word map of three words (vocabulary 7)."""
    task = CaptionTask()
    config = load_config(task, None, ["model.name=adaptive", "model.embed_dim=6", "model.hidden_dim=10",
                                      "model.attention_dim=7", "model.grid_size=3", "model.dropout=0.0",
                                      "encoder.small_cnn_channels=[8,16]", *overrides])
    return task.build_module(config, CaptionVocabularies(WordMap.from_words(["a", "b", "c"]), 32), fresh=True)


def test_alpha_c_adds_the_doubly_stochastic_penalty_over_the_region_weights():
    images, _, lengths = caption_batch(LENGTHS, vocab_size=7)
    captions = torch.randint(1, 7, (4, 5), generator=torch.Generator().manual_seed(3))
    captions[torch.arange(5)[None, :] >= lengths[:, None]] = 0
    batch = {"images": images, "captions": captions, "lengths": lengths, "index": torch.arange(4)}
    plain, weighted = adaptive_module(), adaptive_module("model.alpha_c=2.0")
    weighted.model.load_state_dict(plain.model.state_dict())
    with torch.no_grad():
        outputs = plain(batch)
        regions = outputs["attention"] * valid_steps(lengths)[:, :, None]  # (B, L, k) = (1 - beta) alpha
        penalty = ((1 - regions.sum(dim=1)) ** 2).sum() / (4 * 9)  # mean over 4 captions x 9 regions
        difference = weighted.loss(batch, outputs) - plain.loss(batch, outputs)
    assert penalty > 0.1 and float(difference) == pytest.approx(2.0 * float(penalty), rel=1e-5)
