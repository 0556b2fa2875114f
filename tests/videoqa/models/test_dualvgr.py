"""DualVGR: shapes, padding, parameter count by hand, reference names, GAT and query punishment by hand,
the auxiliary losses by hand, input errors, overfitting a tiny set."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vlkit.core.errors import InvalidValue, VlkitError
from vlkit.videoqa.models import MODELS
from vlkit.videoqa.models.dualvgr import DualVGROptions
from vlkit.videoqa.models.graph_reasoning import (
    MultiHeadGraphAttention,
    QueryPunishment,
    covariance_matching_loss,
    hsic_loss,
)

VOCAB, ANSWERS, APPEARANCE, MOTION = 30, 6, 10, 8


def tiny_options(**changes) -> DualVGROptions:
    values = {"appearance_dim": APPEARANCE, "motion_dim": MOTION, "module_dim": 16, "word_dim": 6, "units": 2,
              "gat_heads": 4, "mfb_dim": 8, "mfb_factor": 2}
    values.update(changes)
    return DualVGROptions(**values)


def build(options: DualVGROptions, vocab_size: int = VOCAB, num_answers: int = ANSWERS) -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.get("dualvgr").builder(options, vocab_size=vocab_size, num_answers=num_answers)


def clip_batch(items: int = 3, clips: int = 4, frames: int = 3, length: int = 5, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([length, max(1, length - 2), 1] * items)[:items]
    questions = torch.randint(1, VOCAB, (items, length), generator=g)
    questions[torch.arange(length)[None] >= lengths[:, None]] = 0
    return {"appearance": torch.randn(items, clips, frames, APPEARANCE, generator=g),
            "motion": torch.randn(items, clips, MOTION, generator=g), "questions": questions,
            "question_lengths": lengths}


@pytest.mark.parametrize("clips, frames, length", [(1, 1, 1), (3, 2, 4), (5, 4, 7)])
def test_output_shapes_and_clip_attention_rows_for_any_clip_frame_and_question_sizes(clips, frames, length):
    net = build(tiny_options()).eval()
    out = net(clip_batch(clips=clips, frames=frames, length=length))
    assert out["logits"].shape == (3, ANSWERS)
    assert out["auxiliary_loss"].shape == ()
    assert out["clip_attention"].shape == (3, clips)
    torch.testing.assert_close(out["clip_attention"].sum(1), torch.ones(3))
    assert out["word_attention"].shape == (3, 2, length)


def test_padding_words_and_longer_padding_change_no_output():
    net = build(tiny_options()).eval()
    short = clip_batch(length=5)
    longer = dict(short)
    longer["questions"] = torch.cat([short["questions"], torch.zeros(3, 4, dtype=torch.long)], dim=1)
    longer["questions"][1, 3:] = 7  # whatever sits after a question's length is ignored
    expected, padded = net(short), net(longer)
    for key in ("logits", "auxiliary_loss", "clip_attention"):
        torch.testing.assert_close(padded[key], expected[key], rtol=0, atol=1e-6)
    assert padded["word_attention"][1, :, 3:].abs().max() == 0
    torch.testing.assert_close(padded["word_attention"].sum(-1), torch.ones(3, 2))


@pytest.fixture(scope="module")
def msvd_qa_model() -> torch.nn.Module:
    """DualVGR at the reference's MSVD-QA recipe: 1854 answers (1852 training answers + 2 unknowns)."""
    return build(DualVGROptions(), vocab_size=4000, num_answers=1854)


def test_parameter_count_at_the_msvd_qa_recipe_by_hand_is_the_papers_27_25m(msvd_qa_model):
    """Trainable parameters without the word embedding at D 768, word 300, features 2048, T 2, 4 heads and the
    1854 MSVD-QA answers; the reference's own DualVGR built with these sizes outside this repository has the
    same 27,249,249 (2026)."""
    net = msvd_qa_model
    counted = sum(p.numel() for name, p in net.named_parameters() if "encoder_embed" not in name)
    assert counted == dualvgr_parameters(units=2) == 27_249_249
    assert round(counted / 1e6, 2) == 27.25
    assert net.linguistic_input_unit.encoder_embed.weight.shape == (4000, 300)


def dualvgr_parameters(units: int, d: int = 768, word: int = 300, vision: int = 2048, answers: int = 1854,
                       heads: int = 4, mfb: int = 256, factor: int = 2) -> int:
    """DualVGR's parameters from its layers (the word embedding left out)."""
    def linear(inputs: int, outputs: int, bias: bool = True) -> int:
        return inputs * outputs + (outputs if bias else 0)

    def bilstm(inputs: int, hidden: int) -> int:  # two directions of W_ih, W_hh, b_ih, b_hh over 4 gates
        return 2 * (4 * hidden * inputs + 4 * hidden * hidden + 2 * 4 * hidden)

    word_states, sentence, frames = bilstm(word, d // 2), bilstm(word, d // 2), bilstm(vision, d // 2)
    motion = linear(vision, d)
    word_attention = linear(d, d) + linear(d, 1)
    punishment = linear(word, d)
    gat = heads * (linear(d, d // heads) + linear(2 * (d // heads), 1))
    view_attention = linear(d, d) + linear(d, 1, bias=False)
    unit = word_attention + 2 * punishment + 4 * gat + 2 * view_attention
    fusion = 2 * linear(d, mfb * factor) + linear(mfb, d)
    pooling = linear(d, d, bias=False) + linear(d, 1)
    output = linear(d, d) + linear(2 * d, d) + 2 * d + linear(d, answers)  # BatchNorm: weight and bias
    return word_states + sentence + frames + motion + units * unit + fusion + pooling + output


def test_reference_parameter_names_and_shapes():
    """Names and shapes as NJUPT-MCC/DualVGR-VideoQA's model/models.py DualVGR state_dict holds them."""
    state = build(tiny_options()).state_dict()
    expected = {
        "linguistic_input_unit.encoder_embed.weight": (VOCAB, 6),
        "linguistic_input_unit.concatRNN.rnn.weight_ih_l0_reverse": (32, 6),
        "linguistic_input_unit.encoder.weight_hh_l0": (32, 8),
        "visual_appearance_input_unit.encoder.weight_ih_l0": (32, APPEARANCE),
        "visual_motion_input_unit.weight": (16, MOTION),
        "visual_input_unit.queryAttn.1.feat_enhance.weight": (16, 16),
        "visual_input_unit.queryAttn.0.fc.bias": (1,),
        "visual_input_unit.queryPunish_appear.0.query_weight.weight": (16, 6),
        "visual_input_unit.queryPunish_motion.1.query_weight.bias": (16,),
        "visual_input_unit.appearance_GCN.0.attention_3.W.weight": (4, 16),
        "visual_input_unit.motion_GCN.1.attention_0.a.weight": (1, 8),
        "visual_input_unit.acGCN.1.attention_2.a.bias": (1,),
        "visual_input_unit.mcGCN.0.attention_1.W.bias": (4,),
        "visual_input_unit.attention_appearance.0.project.0.weight": (16, 16),
        "visual_input_unit.attention_motion.1.project.2.weight": (1, 16),
        "visual_input_unit.visualfusion.linear0.weight": (16, 16),
        "visual_input_unit.visualfusion.linear_out.weight": (16, 8),
        "feature_aggregation.v_proj.weight": (16, 16),
        "feature_aggregation.attn.weight": (1, 16),
        "output_unit.question_proj.weight": (16, 16),
        "output_unit.classifier.1.weight": (16, 32),
        "output_unit.classifier.3.running_var": (16,),
        "output_unit.classifier.5.weight": (ANSWERS, 16),
    }
    assert {name: tuple(state[name].shape) for name in expected} == expected
    assert "feature_aggregation.v_proj.bias" not in state and "visual_input_unit.appearance_adj" not in state


def test_the_state_dict_has_the_reference_number_of_entries_at_full_size(msvd_qa_model):
    """203 entries at T = 2 (the reference's DualVGR built outside this repository, 2026)."""
    assert len(msvd_qa_model.state_dict()) == 203


def test_word_embedding_is_the_one_embedding_glove_fills():
    net = build(tiny_options())
    embeddings = [m for m in net.modules() if isinstance(m, torch.nn.Embedding)]
    assert embeddings == [net.linguistic_input_unit.encoder_embed]
    assert net.linguistic_input_unit.encoder_embed.weight.abs().max() <= 1.0  # uniform(-1, 1) as the reference


HEAD_WEIGHTS = [  # per head: W (2 x 4), W bias, a (4), a bias
    ([[1.0, 0.0, 0.0, 1.0], [0.0, 2.0, 0.0, 0.0]], [0.0, -1.0], [1.0, -1.0, 0.5, 2.0], -0.5),
    ([[0.0, 1.0, -1.0, 0.0], [1.0, 0.0, 0.0, 0.5]], [0.5, 0.0], [-0.5, 1.0, 1.5, -1.0], 0.25),
]


def gat_by_hand(nodes: list[list[float]], adjacency: list[list[int]], gates: list[float]
                ) -> tuple[list[list[list[float]]], list[list[float]]]:
    """Per head: e_ij = LeakyReLU_0.01(a . [W h_i || W h_j] + b) for the neighbours j of i (self-loops included),
    att = softmax_j e_ij, out_i = ELU(sum_j att_ij gate_j W h_j); heads concatenated."""
    attentions, outputs = [], [[] for _ in nodes]
    for weight, bias, a, a_bias in HEAD_WEIGHTS:
        wh = [[sum(w * x for w, x in zip(row, node)) + b for row, b in zip(weight, bias)] for node in nodes]
        rows = []
        for i in range(len(nodes)):
            scores = {}
            for j in range(len(nodes)):
                if adjacency[i][j]:
                    e = sum(w * x for w, x in zip(a, wh[i] + wh[j])) + a_bias
                    scores[j] = e if e > 0 else 0.01 * e
            total = sum(math.exp(score) for score in scores.values())
            row = [math.exp(scores[j]) / total if j in scores else 0.0 for j in range(len(nodes))]
            message = [sum(row[j] * gates[j] * wh[j][k] for j in range(len(nodes))) for k in range(2)]
            outputs[i] += [m if m > 0 else math.exp(m) - 1 for m in message]
            rows.append(row)
        attentions.append(rows)
    return attentions, outputs


def test_two_head_gat_by_hand_on_three_nodes_of_a_path_graph():
    gat = MultiHeadGraphAttention(module_dim=4, heads=2, leaky_slope=0.01, dropout=0.0)
    with torch.no_grad():
        for head, (weight, bias, a, a_bias) in zip([gat.attention_0, gat.attention_1], HEAD_WEIGHTS):
            head.W.weight.copy_(torch.tensor(weight))
            head.W.bias.copy_(torch.tensor(bias))
            head.a.weight.copy_(torch.tensor([a]))
            head.a.bias.fill_(a_bias)
    nodes = [[1.0, 1.0, 0.0, -1.0], [2.0, 0.0, 1.0, 0.5], [0.0, 3.0, -2.0, 1.0]]
    adjacency = [[1, 1, 0], [1, 1, 1], [0, 1, 1]]  # path 0-1-2 with self-loops
    gates = [0.5, 1.0, 0.25]
    expected_attention, expected_out = gat_by_hand(nodes, adjacency, gates)
    node_tensor, mask = torch.tensor([nodes]), torch.tensor(adjacency, dtype=torch.bool)
    attention = gat.attention(gat.project(node_tensor), mask)
    torch.testing.assert_close(attention, torch.tensor([expected_attention]))
    torch.testing.assert_close(attention.sum(-1), torch.ones(1, 2, 3))
    assert attention[0, :, 0, 2].abs().max() == 0 and attention[0, :, 2, 0].abs().max() == 0
    torch.testing.assert_close(gat(node_tensor, mask, torch.tensor(gates).view(1, 3, 1)), torch.tensor([expected_out]))


def test_gat_attention_rows_of_the_model_sum_to_one_over_the_complete_graph():
    net = build(tiny_options()).eval()
    gat = net.visual_input_unit.acGCN[0]
    attention = gat.attention(gat.project(torch.randn(2, 5, 16)), torch.ones(5, 5, dtype=torch.bool))
    assert attention.shape == (2, 4, 5, 5) and bool((attention > 0).all())
    torch.testing.assert_close(attention.sum(-1), torch.ones(2, 4, 5))


def test_query_punishment_gate_is_sigmoid_of_node_dot_W_q():
    punishment = QueryPunishment(word_dim=2, module_dim=3)
    with torch.no_grad():
        punishment.query_weight.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        punishment.query_weight.bias.copy_(torch.tensor([0.0, 0.5, -1.0]))
    query = torch.tensor([[2.0, -1.0]])  # W q = [2, -0.5, 0]
    nodes = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 2.0, 5.0], [0.0, 0.0, 0.0]]])  # node . W q = 2, -1, 0
    expected = torch.tensor([[[1 / (1 + math.exp(-2.0))], [1 / (1 + math.exp(1.0))], [0.5]]])
    torch.testing.assert_close(punishment(query, nodes), expected)


def test_hsic_by_hand_is_summed_over_the_batch():
    """Two nodes, one feature: centred x = (-1, 1), y = (1, -1): trace(R K1 R K2) = (x_c . y_c)^2 = 4 per item."""
    first = torch.tensor([[[1.0], [3.0]]]).repeat(2, 1, 1)
    second = torch.tensor([[[2.0], [0.0]]]).repeat(2, 1, 1)
    torch.testing.assert_close(hsic_loss(first, second), torch.tensor(8.0))


def test_covariance_matching_by_hand():
    """Centred, normalised Gram matrices [[1,0,-r],[0,1,-r],[-r,-r,1]] (r = 1/sqrt 2) and [[1,-1,0],[-1,1,0],[0,0,0]]
    differ by squares summing to 5 over 9 entries."""
    first = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]])
    second = torch.tensor([[[3.0, 5.0], [1.0, 5.0], [2.0, 5.0]]])  # centred: (1, 0), (-1, 0), (0, 0)
    torch.testing.assert_close(covariance_matching_loss(first, second), torch.tensor(5 / 9))


def test_auxiliary_loss_is_zero_without_weights_and_scales_with_each_weight():
    batch = clip_batch()

    def auxiliary(alpha: float, beta: float) -> torch.Tensor:
        return build(tiny_options(common_loss_weight=alpha, independence_loss_weight=beta)).eval()(batch)[
            "auxiliary_loss"]

    assert auxiliary(0.0, 0.0) == 0
    common, independence = auxiliary(1.0, 0.0), auxiliary(0.0, 1.0)
    assert common > 0 and independence > 0
    torch.testing.assert_close(auxiliary(3.0, 0.5), 3 * common + 0.5 * independence)


def test_wrong_feature_sizes_and_question_lengths_are_vlkit_errors():
    net = build(tiny_options()).eval()
    batch = clip_batch()
    for key, value in [("appearance", torch.randn(3, 4, 3, APPEARANCE + 1)), ("motion", torch.randn(3, 2, MOTION)),
                       ("question_lengths", torch.tensor([5, 0, 1])), ("question_lengths", torch.tensor([6, 1, 1]))]:
        with pytest.raises(VlkitError):
            net({**batch, key: value})


def test_module_dim_must_split_into_two_directions_and_the_heads():
    with pytest.raises(InvalidValue, match="module_dim"):
        tiny_options(module_dim=18)
    with pytest.raises(InvalidValue, match="gat_dropout"):
        tiny_options(gat_dropout=1.0)


def test_a_few_steps_overfit_eight_items():
    torch.manual_seed(0)
    net = build(tiny_options(input_dropout=0.0, state_dropout=0.0, dropout=0.0, gat_dropout=0.0)).train()
    batch = clip_batch(items=8, seed=1)
    answers = torch.arange(8) % ANSWERS
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        out = net(batch)
        loss = F.cross_entropy(out["logits"], answers) + out["auxiliary_loss"]
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 12)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
