"""DualVGR's forward pass (NJUPT-MCC/DualVGR-VideoQA, eval mode) written out as plain tensor maths over its state dict.

The functions read a state dict with the repository's key names (`model/models.py` `DualVGR`, the
`module.` prefix of a DataParallel model already removed) and compute its logits step by step the
way the repository's code does, with every dropout off and the BatchNorm on its running statistics:

- questions: the embedding rows through tanh; two bidirectional LSTMs (`concatRNN.rnn`, `encoder`) each
  run per question over its own length (packed sequences); `concatRNN`'s outputs are zero past a
  question's length, `encoder`'s final states [forward at the last word; backward at the first word]
  make the question vector;
- appearance: tanh, then a bidirectional LSTM over the F frames of each clip, final states concatenated;
  motion: one linear layer;
- each of the `unit_layers` DualVGR units: a word attention (softmax over all L positions, masked by
  the length and divided by its sum + 1e-5), query punishment scores sigmoid(<clip, W q>), four multi-head
  GATs (`acGCN`/`appearance_GCN` on appearance, `mcGCN`/`motion_GCN` on motion; entry i + j for graph
  layer j: the repository's indexing) whose value rows are scaled by the scores, the attention fusion
  of the common and specific outputs, added to the clip features;
- MFB fusion of appearance and motion (ELU in, sum-pool over the factor, ELU out), self attention over
  clips, then [visual; question_proj(question)] through Linear, ELU, BatchNorm1d, Linear.

`random_dualvgr_state` builds a state dict with the repository's keys and shapes, every value drawn
away from any initialisation so that each parameter changes the logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Tensor = torch.Tensor

GAT_LEAKY_SLOPE = 0.01  # punishGAT(..., alpha=0.01)
WORD_ATTENTION_EPS = 1e-5  # QueryAttn: attn / (attn.sum(1) + 1e-5)
BATCH_NORM_EPS = 1e-5  # nn.BatchNorm1d default


def linear(state: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    """x (..., in) @ `name`.weight^T (+ `name`.bias when the state has one) -> (..., out)."""
    y = x @ state[f"{name}.weight"].T
    return y + state[f"{name}.bias"] if f"{name}.bias" in state else y


def lstm_direction(state: dict[str, Tensor], name: str, suffix: str, x: Tensor, reverse: bool
                   ) -> tuple[Tensor, Tensor]:
    """One direction of a one-layer LSTM from zero states over x (N, T, I), all N rows of the same length T.

    Returns the hidden outputs (N, T, H) at their time positions and the final hidden state (N, H).
    PyTorch's gate order: input, forget, cell candidate, output."""
    w_ih, w_hh = state[f"{name}.weight_ih_l0{suffix}"], state[f"{name}.weight_hh_l0{suffix}"]
    bias = state[f"{name}.bias_ih_l0{suffix}"] + state[f"{name}.bias_hh_l0{suffix}"]
    rows, steps = x.shape[0], x.shape[1]
    h = x.new_zeros(rows, w_hh.shape[1])
    c = x.new_zeros(rows, w_hh.shape[1])
    outputs = [x.new_zeros(0)] * steps
    for t in (reversed(range(steps)) if reverse else range(steps)):
        i, f, g, o = (x[:, t] @ w_ih.T + h @ w_hh.T + bias).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs[t] = h
    return torch.stack(outputs, dim=1), h


def bidirectional_lstm(state: dict[str, Tensor], name: str, x: Tensor) -> tuple[Tensor, Tensor]:
    """x (N, T, I) -> outputs (N, T, 2H) = [forward; backward] and final states (N, 2H) = [h_n fwd; h_n bwd]."""
    forward, forward_last = lstm_direction(state, name, "", x, reverse=False)
    backward, backward_last = lstm_direction(state, name, "_reverse", x, reverse=True)
    return torch.cat([forward, backward], dim=2), torch.cat([forward_last, backward_last], dim=1)


def question_encoders(state: dict[str, Tensor], questions: Tensor, question_lengths: Tensor
                      ) -> tuple[Tensor, Tensor, Tensor]:
    """`InputUnitLinguisticDynamic`: questions (B, L) int64, question_lengths (B,) ->
    question vector (B, D), words tanh(embedding) (B, L, Dw), per-word context (B, L, D), zero past each length."""
    prefix = "linguistic_input_unit"
    words = torch.tanh(state[f"{prefix}.encoder_embed.weight"][questions])  # (B, L, Dw)
    batch, max_length = questions.shape
    module_dim = 2 * state[f"{prefix}.encoder.weight_hh_l0"].shape[1]
    contexts = words.new_zeros(batch, max_length, module_dim)
    vectors = []
    for b in range(batch):
        length = int(question_lengths[b])
        own_words = words[b:b + 1, :length]  # packed: the LSTM never sees the padding
        context, _ = bidirectional_lstm(state, f"{prefix}.concatRNN.rnn", own_words)
        contexts[b, :length] = context[0]
        _, vector = bidirectional_lstm(state, f"{prefix}.encoder", own_words)
        vectors.append(vector[0])
    return torch.stack(vectors), words, contexts


def appearance_encoder(state: dict[str, Tensor], appearance: Tensor) -> Tensor:
    """`VisualAppearanceEncoder`: appearance (B, C, F, Da) -> (B, C, D), the final states of a BiLSTM over frames."""
    batch, clips, frames, dim = appearance.shape
    sequences = torch.tanh(appearance).reshape(batch * clips, frames, dim)
    _, final = bidirectional_lstm(state, "visual_appearance_input_unit.encoder", sequences)
    return final.reshape(batch, clips, -1)


def word_attention(state: dict[str, Tensor], name: str, words: Tensor, contexts: Tensor, question_lengths: Tensor
                   ) -> Tensor:
    """`QueryAttn`: words (B, L, Dw), contexts (B, L, D) -> attended words (B, Dw)."""
    keys = F.normalize(linear(state, f"{name}.feat_enhance", contexts), p=2, dim=-1)
    attention = torch.softmax(linear(state, f"{name}.fc", keys)[:, :, 0], dim=1)  # (B, L), over all positions
    positions = torch.arange(words.shape[1])
    attention = attention * (positions[None, :] < question_lengths[:, None]).to(attention.dtype)
    attention = attention / (attention.sum(dim=1, keepdim=True) + WORD_ATTENTION_EPS)
    return (attention[:, :, None] * words).sum(dim=1)


def punishment_scores(state: dict[str, Tensor], name: str, query: Tensor, clips: Tensor) -> Tensor:
    """`QueryPunish`: query (B, Dw), clips (B, C, D) -> sigmoid(<clip, W query + b>) (B, C, 1)."""
    projected = linear(state, f"{name}.query_weight", query)  # (B, D)
    return torch.sigmoid((clips * projected[:, None, :]).sum(dim=2, keepdim=True))


def gat_head(state: dict[str, Tensor], name: str, nodes: Tensor, adjacency: Tensor, scores: Tensor) -> Tensor:
    """`PunishGraphAttentionLayer`: nodes (B, N, D), adjacency (N, N), scores (B, N, 1) -> ELU output (B, N, Dh).

    e_ij = LeakyReLU(a [Wh_i; Wh_j] + a_b), softmax over j where the adjacency is positive,
    h'_i = sum_j alpha_ij * scores_j * Wh_j."""
    wh = linear(state, f"{name}.W", nodes)  # (B, N, Dh)
    hidden = wh.shape[2]
    a_weight, a_bias = state[f"{name}.a.weight"][0], state[f"{name}.a.bias"][0]
    logits = (wh @ a_weight[:hidden])[:, :, None] + (wh @ a_weight[hidden:])[:, None, :] + a_bias  # (B, N, N)
    logits = F.leaky_relu(logits, GAT_LEAKY_SLOPE)
    logits = torch.where(adjacency > 0, logits, torch.full_like(logits, -9e15))
    attention = torch.softmax(logits, dim=-1)
    return F.elu(attention @ (wh * scores))


def gat(state: dict[str, Tensor], name: str, nodes: Tensor, adjacency: Tensor, scores: Tensor) -> Tensor:
    """`punishGAT`: the heads `name`.attention_0, _1, ... concatenated: (B, N, D) -> (B, N, heads * Dh)."""
    heads = sorted({int(key[len(name) + len(".attention_"):].split(".")[0])
                    for key in state if key.startswith(f"{name}.attention_")})
    return torch.cat([gat_head(state, f"{name}.attention_{h}", nodes, adjacency, scores) for h in heads], dim=2)


def view_attention(state: dict[str, Tensor], name: str, views: Tensor) -> Tensor:
    """`AttentionSFGCN`: views (B, V, N, D) -> sum over V of softmax_V(w2 tanh(W1 x + b1)) x, (B, N, D)."""
    weights = linear(state, f"{name}.project.2", torch.tanh(linear(state, f"{name}.project.0", views)))
    return (torch.softmax(weights, dim=1) * views).sum(dim=1)


def mfb(state: dict[str, Tensor], name: str, x0: Tensor, x1: Tensor) -> Tensor:
    """`MFB` (ELU in and out, no normalisation): x0, x1 (B, N, D) -> (B, N, D_out)."""
    fused = F.elu(linear(state, f"{name}.linear0", x0)) * F.elu(linear(state, f"{name}.linear1", x1))
    mm_dim = state[f"{name}.linear_out.weight"].shape[1]
    pooled = fused.reshape(*fused.shape[:-1], mm_dim, -1).sum(dim=-1)  # view(..., mm_dim, factor).sum(-1)
    return F.elu(linear(state, f"{name}.linear_out", pooled))


def repository_adjacency(num_nodes: int) -> Tensor:
    """The fully connected graph with self loops, row-normalised: 2/(N+1) on the diagonal, 1/(N+1) elsewhere."""
    adjacency = torch.ones(num_nodes, num_nodes) + torch.eye(num_nodes)
    return adjacency / adjacency.sum(dim=1, keepdim=True)


def count_entries(state: dict[str, Tensor], prefix: str) -> int:
    """The number of entries `prefix`.0, `prefix`.1, ... of a ModuleList in the state."""
    return len({key[len(prefix) + 1:].split(".")[0] for key in state if key.startswith(f"{prefix}.")})


def reference_logits(state: dict[str, Tensor], appearance: Tensor, motion: Tensor, questions: Tensor,
                     question_lengths: Tensor, graph_layers: int = 1) -> Tensor:
    """`DualVGR.forward` in eval mode -> logits (B, A).

    appearance (B, C, F, Da), motion (B, C, Dm), questions (B, L) int64 (0 = padding), question_lengths (B,);
    C is the model's `num_of_nodes`. The number of units is the length of `queryAttn` in the state."""
    unit = "visual_input_unit"
    question, words, contexts = question_encoders(state, questions, question_lengths)
    appearance_clips = appearance_encoder(state, appearance)  # (B, C, D)
    motion_clips = linear(state, "visual_motion_input_unit", motion)  # (B, C, D)
    adjacency = repository_adjacency(appearance.shape[1])
    for i in range(count_entries(state, f"{unit}.queryAttn")):
        query = word_attention(state, f"{unit}.queryAttn.{i}", words, contexts, question_lengths)
        appearance_scores = punishment_scores(state, f"{unit}.queryPunish_appear.{i}", query, appearance_clips)
        motion_scores = punishment_scores(state, f"{unit}.queryPunish_motion.{i}", query, motion_clips)
        appearance_specific, motion_specific = appearance_clips, motion_clips
        for j in range(graph_layers):
            appearance_common = gat(state, f"{unit}.acGCN.{i + j}", appearance_specific, adjacency, appearance_scores)
            appearance_specific = gat(state, f"{unit}.appearance_GCN.{i + j}", appearance_specific, adjacency,
                                      appearance_scores)
        for j in range(graph_layers):
            motion_common = gat(state, f"{unit}.mcGCN.{i + j}", motion_specific, adjacency, motion_scores)
            motion_specific = gat(state, f"{unit}.motion_GCN.{i + j}", motion_specific, adjacency, motion_scores)
        appearance_clips = appearance_clips + view_attention(
            state, f"{unit}.attention_appearance.{i}", torch.stack([appearance_common, appearance_specific], dim=1))
        motion_clips = motion_clips + view_attention(
            state, f"{unit}.attention_motion.{i}", torch.stack([motion_common, motion_specific], dim=1))
    visual = mfb(state, f"{unit}.visualfusion", appearance_clips, motion_clips)  # (B, C, D)
    clip_weights = torch.softmax(linear(state, "feature_aggregation.attn",
                                        F.elu(linear(state, "feature_aggregation.v_proj", visual))), dim=1)
    video = (clip_weights * visual).sum(dim=1)  # (B, D)
    hidden = linear(state, "output_unit.classifier.1",
                    torch.cat([video, linear(state, "output_unit.question_proj", question)], dim=1))
    hidden = F.elu(hidden)
    norm = "output_unit.classifier.3"
    hidden = ((hidden - state[f"{norm}.running_mean"]) / torch.sqrt(state[f"{norm}.running_var"] + BATCH_NORM_EPS)
              * state[f"{norm}.weight"] + state[f"{norm}.bias"])
    return linear(state, "output_unit.classifier.5", hidden)


def dualvgr_shapes(vocab_size: int, num_answers: int, vision_dim: int, module_dim: int, word_dim: int,
                   unit_layers: int, graph_layers: int, heads: int = 4, fusion_dim: int = 256, fusion_factor: int = 2
                   ) -> dict[str, tuple[int, ...]]:
    """The repository's state-dict keys and shapes, in its modules' registration order.

    Derived from the layer definitions: LSTMs of hidden size module_dim // 2 (bidirectional), GAT heads of
    module_dim // 4 features (`punishGAT(module_dim, module_dim // 4, n_heads=4)`), `MFB([D, D], D)` with
    its defaults mm_dim=256, factor=2, `BatchNorm1d(D)` between the classifier's linears."""
    shapes: dict[str, tuple[int, ...]] = {}

    def add_linear(name: str, inputs: int, outputs: int, bias: bool = True) -> None:
        shapes[f"{name}.weight"] = (outputs, inputs)
        if bias:
            shapes[f"{name}.bias"] = (outputs,)

    def add_bilstm(name: str, inputs: int, hidden: int) -> None:
        for suffix in ("", "_reverse"):
            shapes[f"{name}.weight_ih_l0{suffix}"] = (4 * hidden, inputs)
            shapes[f"{name}.weight_hh_l0{suffix}"] = (4 * hidden, hidden)
            shapes[f"{name}.bias_ih_l0{suffix}"] = (4 * hidden,)
            shapes[f"{name}.bias_hh_l0{suffix}"] = (4 * hidden,)

    d = module_dim
    add_linear("feature_aggregation.v_proj", d, d, bias=False)
    add_linear("feature_aggregation.attn", d, 1)
    shapes["linguistic_input_unit.encoder_embed.weight"] = (vocab_size, word_dim)
    add_bilstm("linguistic_input_unit.concatRNN.rnn", word_dim, d // 2)
    add_bilstm("linguistic_input_unit.encoder", word_dim, d // 2)
    add_bilstm("visual_appearance_input_unit.encoder", vision_dim, d // 2)
    add_linear("visual_motion_input_unit", vision_dim, d)
    unit = "visual_input_unit"
    for i in range(unit_layers):
        add_linear(f"{unit}.queryAttn.{i}.feat_enhance", d, d)
        add_linear(f"{unit}.queryAttn.{i}.fc", d, 1)
    for kind in ("queryPunish_appear", "queryPunish_motion"):
        for i in range(unit_layers):
            add_linear(f"{unit}.{kind}.{i}.query_weight", word_dim, d)
    for kind in ("appearance_GCN", "motion_GCN", "acGCN", "mcGCN"):
        for k in range(unit_layers * graph_layers):
            for h in range(heads):
                add_linear(f"{unit}.{kind}.{k}.attention_{h}.W", d, d // 4)
                add_linear(f"{unit}.{kind}.{k}.attention_{h}.a", 2 * (d // 4), 1)
    for kind in ("attention_appearance", "attention_motion"):
        for i in range(unit_layers):
            add_linear(f"{unit}.{kind}.{i}.project.0", d, d)
            add_linear(f"{unit}.{kind}.{i}.project.2", d, 1, bias=False)
    add_linear(f"{unit}.visualfusion.linear0", d, fusion_dim * fusion_factor)
    add_linear(f"{unit}.visualfusion.linear1", d, fusion_dim * fusion_factor)
    add_linear(f"{unit}.visualfusion.linear_out", fusion_dim, d)
    add_linear("output_unit.question_proj", d, d)
    add_linear("output_unit.classifier.1", 2 * d, d)
    for name in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"output_unit.classifier.3.{name}"] = (d,)
    shapes["output_unit.classifier.3.num_batches_tracked"] = ()
    add_linear("output_unit.classifier.5", d, num_answers)
    return shapes


def random_dualvgr_state(vocab_size: int, num_answers: int, vision_dim: int = 12, module_dim: int = 16,
                         word_dim: int = 10, unit_layers: int = 2, graph_layers: int = 1, heads: int = 4,
                         fusion_dim: int = 256, fusion_factor: int = 2, seed: int = 0) -> dict[str, Tensor]:
    """A state dict with the repository's keys and shapes: weights normal * 0.3, biases normal * 0.1 (never the
    zeros of `init_modules`), BatchNorm running variances in [0.5, 1.5) and non-zero means."""
    generator = torch.Generator().manual_seed(seed)
    state: dict[str, Tensor] = {}
    shapes = dualvgr_shapes(vocab_size, num_answers, vision_dim, module_dim, word_dim, unit_layers, graph_layers,
                            heads, fusion_dim, fusion_factor)
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1234, dtype=torch.int64)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(shape, generator=generator)
        else:
            scale = 0.3 if "weight" in key else 0.1
            state[key] = torch.randn(shape, generator=generator) * scale
    return state


def padded_clip_batch(seed: int, vocab_size: int, clips: int, frames: int, vision_dim: int) -> dict[str, Tensor]:
    """Four videos of clips x frames random features; questions of lengths 6, 2, 4, 1, 0-padded to the longest (6)."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([6, 2, 4, 1])
    words = torch.randint(1, vocab_size, (4, 6), generator=generator)
    return {"appearance": torch.randn(4, clips, frames, vision_dim, generator=generator),
            "motion": torch.randn(4, clips, vision_dim, generator=generator),
            "questions": words * (torch.arange(6)[None, :] < lengths[:, None]),
            "question_lengths": lengths}
