"""The reference models' forward passes written out as plain tensor maths over their own checkpoints.

Each function reads a state_dict saved by the reference repository (its key names, `module.`
prefix already removed) and computes that repository's output the way its code does, step by step:
mcan-vqa's `Net` (LSTM over the whole zero-padded question, masks from all-zero rows, -1e9 masking,
its LayerNorm with the unbiased std and eps added to the std) and pytorch-vqa's `Net` (token 0 for
padding and unknown words, one LSTM run per question over its own length, L2-normalised grid). The
tests import the same checkpoint into vlkit and require vlkit's logits to equal these.
"""

from __future__ import annotations

import math

import torch

Tensor = torch.Tensor


def linear(state: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    """x (..., in) @ `name`.weight^T + `name`.bias when the checkpoint has one -> (..., out)."""
    y = x @ state[f"{name}.weight"].T
    return y + state[f"{name}.bias"] if f"{name}.bias" in state else y


def lstm_states(state: dict[str, Tensor], name: str, x: Tensor) -> tuple[Tensor, Tensor]:
    """One-layer LSTM over x (T, E) from t = 0: hidden outputs (T, H) and the final cell state (H,).

    PyTorch's gate order in weight_ih / weight_hh: input, forget, cell candidate, output."""
    hidden_size = state[f"{name}.weight_hh_l0"].shape[1]
    h, c = x.new_zeros(hidden_size), x.new_zeros(hidden_size)
    outputs = []
    for x_t in x:
        gates = (state[f"{name}.weight_ih_l0"] @ x_t + state[f"{name}.bias_ih_l0"]
                 + state[f"{name}.weight_hh_l0"] @ h + state[f"{name}.bias_hh_l0"])
        i, f, g, o = gates.chunk(4)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs), c


def mcan_layer_norm(state: dict[str, Tensor], name: str, x: Tensor, eps: float = 1e-6) -> Tensor:
    """mcan-vqa's LayerNorm: a_2 * (x - mean) / (unbiased std + eps) + b_2 over the last dimension."""
    mean = x.mean(-1, keepdim=True)
    std = x.std(-1, keepdim=True, unbiased=True)
    return state[f"{name}.a_2"] * (x - mean) / (std + eps) + state[f"{name}.b_2"]


def mcan_attention(state: dict[str, Tensor], name: str, value: Tensor, key: Tensor, query: Tensor,
                   key_padding: Tensor, heads: int) -> Tensor:
    """Multi-head scaled dot-product attention; query (B, Tq, H), key/value (B, Tk, H), key_padding (B, Tk)."""
    batch, _, hidden = query.shape

    def split(x: Tensor) -> Tensor:  # (B, T, H) -> (B, heads, T, H / heads)
        return x.view(batch, -1, heads, hidden // heads).transpose(1, 2)

    v, k, q = split(linear(state, f"{name}.linear_v", value)), split(linear(state, f"{name}.linear_k", key)), \
        split(linear(state, f"{name}.linear_q", query))
    scores = q @ k.transpose(-2, -1) / math.sqrt(hidden // heads)
    scores = scores.masked_fill(key_padding[:, None, None, :], -1e9)
    attended = torch.softmax(scores, dim=-1) @ v  # (B, heads, Tq, H / heads)
    return linear(state, f"{name}.linear_merge", attended.transpose(1, 2).reshape(batch, -1, hidden))


def mcan_ffn(state: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    """Linear H -> 4H, ReLU, linear 4H -> H."""
    return linear(state, f"{name}.mlp.linear", torch.relu(linear(state, f"{name}.mlp.fc.linear", x)))


def mcan_att_flat(state: dict[str, Tensor], name: str, x: Tensor, padding: Tensor) -> Tensor:
    """Glimpse attention over the rows of x (B, T, H), padding (B, T) -> merged vector (B, flat_out)."""
    scores = linear(state, f"{name}.mlp.linear", torch.relu(linear(state, f"{name}.mlp.fc.linear", x)))  # (B, T, G)
    weights = torch.softmax(scores.masked_fill(padding[:, :, None], -1e9), dim=1)
    glimpses = [(weights[:, :, g:g + 1] * x).sum(dim=1) for g in range(weights.shape[2])]
    return linear(state, f"{name}.linear_merge", torch.cat(glimpses, dim=1))


def mcan_vqa_logits(state: dict[str, Tensor], question_ix: Tensor, image_features: Tensor, heads: int) -> Tensor:
    """mcan-vqa's answer scores before its final sigmoid.

    question_ix (B, 14) mcan token indices, 0 = PAD after the question; image_features (B, 100, 2048),
    zero rows after each image's boxes. Returns (B, answers)."""
    lang_padding = question_ix == 0  # (B, T)
    image_padding = image_features.abs().sum(dim=-1) == 0  # (B, K)
    embedded = state["embedding.weight"][question_ix]  # (B, T, E)
    lang = torch.stack([lstm_states(state, "lstm", sequence)[0] for sequence in embedded])  # over the padding too
    image = linear(state, "img_feat_linear", image_features)
    encoders = sorted({int(k.split(".")[2]) for k in state if k.startswith("backbone.enc_list.")})
    decoders = sorted({int(k.split(".")[2]) for k in state if k.startswith("backbone.dec_list.")})
    for layer in encoders:
        name = f"backbone.enc_list.{layer}"
        lang = mcan_layer_norm(state, f"{name}.norm1",
                               lang + mcan_attention(state, f"{name}.mhatt", lang, lang, lang, lang_padding, heads))
        lang = mcan_layer_norm(state, f"{name}.norm2", lang + mcan_ffn(state, f"{name}.ffn", lang))
    for layer in decoders:
        name = f"backbone.dec_list.{layer}"
        image = mcan_layer_norm(state, f"{name}.norm1", image + mcan_attention(
            state, f"{name}.mhatt1", image, image, image, image_padding, heads))
        image = mcan_layer_norm(state, f"{name}.norm2", image + mcan_attention(
            state, f"{name}.mhatt2", lang, lang, image, lang_padding, heads))
        image = mcan_layer_norm(state, f"{name}.norm3", image + mcan_ffn(state, f"{name}.ffn", image))
    fused = (mcan_att_flat(state, "attflat_lang", lang, lang_padding)
             + mcan_att_flat(state, "attflat_img", image, image_padding))
    return linear(state, "proj", mcan_layer_norm(state, "proj_norm", fused))


def pytorch_vqa_logits(state: dict[str, Tensor], question_ix: list[list[int]], grid: Tensor) -> Tensor:
    """pytorch-vqa's answer logits in eval mode (dropout off).

    question_ix: per question its token indices (1..V, 0 for unknown words), no padding;
    grid (B, 2048, 14, 14) ResNet features. Returns (B, answers)."""
    questions = torch.stack([lstm_states(state, "text.lstm", torch.tanh(state["text.embedding.weight"][ix]))[1]
                             for ix in question_ix])  # the final cell state (B, 1024)
    v = grid / (grid.norm(p=2, dim=1, keepdim=True) + 1e-8)
    batch, channels = v.shape[:2]
    v_mid = torch.einsum("mc,bcyx->bmyx", state["attention.v_conv.weight"][:, :, 0, 0], v)
    q_mid = linear(state, "attention.q_lin", questions)[:, :, None, None]
    glimpse_scores = torch.einsum("gm,bmyx->bgyx", state["attention.x_conv.weight"][:, :, 0, 0],
                                  torch.relu(v_mid + q_mid)) + state["attention.x_conv.bias"][None, :, None, None]
    weights = torch.softmax(glimpse_scores.flatten(2), dim=2)  # (B, G, 196), each glimpse on its own
    attended = torch.einsum("bgs,bcs->bgc", weights, v.flatten(2)).reshape(batch, -1)  # glimpse 0 first
    hidden = torch.relu(linear(state, "classifier.lin1", torch.cat([attended, questions], dim=1)))
    return linear(state, "classifier.lin2", hidden)
