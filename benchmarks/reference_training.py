"""The reference implementations' models and training steps, transcribed as modules for speed baselines.

`ReferenceMcan` follows MILVLG/mcan-vqa's `Net` (core/model/net.py, mca.py, net_utils.py) operation
for operation: masks from all-zero rows built once in the forward, an LSTM over the whole
zero-padded question, every layer computed on all 100 region rows, attention as matmul ->
masked_fill(-1e9) -> softmax -> dropout -> matmul, its LayerNorm with the unbiased std, AttFlat's
per-glimpse weighted sums, and a sigmoid on the answer scores. Its training step is mcan-vqa's:
BCELoss(reduction="sum") on the sigmoid outputs, Adam(betas 0.9/0.98, eps 1e-9).

`ReferenceSaaa` follows Cyanogenoid/pytorch-vqa's `Net` (model.py): grid features (B, 2048, 14, 14)
L2-normalised over the channels, dropout -> tanh on the word vectors, one packed LSTM run over
questions sorted by length (its collate function sorts them), 1x1 convolutions for the attention,
the question vector tiled over the grid, and `apply_attention`'s expanded (B, G, C, S) product
summed over the grid. Its training step is train.py's: -log_softmax weighted by the targets,
summed over answers, averaged over questions; Adam.

The MLP blocks (linear -> ReLU -> dropout -> linear) are vlkit's own `MLP`, which is the reference's
unchanged. Both keep the reference parameter names, which vlkit's models share, so one state_dict drives both
(tests/vqa/models/test_benchmark_baselines.py checks the outputs are equal on the same weights).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from vlkit.vqa.models.mcan import MLP


class ReferenceLayerNorm(nn.Module):
    def __init__(self, size: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.a_2 = nn.Parameter(torch.ones(size))
        self.b_2 = nn.Parameter(torch.zeros(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(-1, keepdim=True)
        return self.a_2 * centred / (x.std(-1, keepdim=True) + self.eps) + self.b_2


class ReferenceMHAtt(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.hidden, self.heads = hidden, heads
        self.linear_v = nn.Linear(hidden, hidden)
        self.linear_k = nn.Linear(hidden, hidden)
        self.linear_q = nn.Linear(hidden, hidden)
        self.linear_merge = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)

    def heads_first(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.size(0), -1, self.heads, self.hidden // self.heads).transpose(1, 2)

    def forward(self, v: torch.Tensor, k: torch.Tensor, q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        value, key = self.heads_first(self.linear_v(v)), self.heads_first(self.linear_k(k))
        query = self.heads_first(self.linear_q(q))
        scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(query.size(-1))
        weights = self.dropout(F.softmax(scores.masked_fill(mask, -1e9), dim=-1))
        attended = torch.matmul(weights, value).transpose(1, 2).contiguous().view(q.size(0), -1, self.hidden)
        return self.linear_merge(attended)


class ReferenceFFN(nn.Module):
    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.mlp = MLP(hidden, 4 * hidden, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class ReferenceSA(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.mhatt = ReferenceMHAtt(hidden, heads, dropout)
        self.ffn = ReferenceFFN(hidden, dropout)
        self.dropout1, self.norm1 = nn.Dropout(dropout), ReferenceLayerNorm(hidden)
        self.dropout2, self.norm2 = nn.Dropout(dropout), ReferenceLayerNorm(hidden)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout1(self.mhatt(x, x, x, x_mask)))
        return self.norm2(x + self.dropout2(self.ffn(x)))


class ReferenceSGA(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.mhatt1 = ReferenceMHAtt(hidden, heads, dropout)
        self.mhatt2 = ReferenceMHAtt(hidden, heads, dropout)
        self.ffn = ReferenceFFN(hidden, dropout)
        self.dropout1, self.norm1 = nn.Dropout(dropout), ReferenceLayerNorm(hidden)
        self.dropout2, self.norm2 = nn.Dropout(dropout), ReferenceLayerNorm(hidden)
        self.dropout3, self.norm3 = nn.Dropout(dropout), ReferenceLayerNorm(hidden)

    def forward(self, x: torch.Tensor, y: torch.Tensor, x_mask: torch.Tensor, y_mask: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout1(self.mhatt1(x, x, x, x_mask)))
        x = self.norm2(x + self.dropout2(self.mhatt2(y, y, x, y_mask)))
        return self.norm3(x + self.dropout3(self.ffn(x)))


class ReferenceBackbone(nn.Module):
    def __init__(self, hidden: int, heads: int, layers: int, dropout: float):
        super().__init__()
        self.enc_list = nn.ModuleList([ReferenceSA(hidden, heads, dropout) for _ in range(layers)])
        self.dec_list = nn.ModuleList([ReferenceSGA(hidden, heads, dropout) for _ in range(layers)])

    def forward(self, lang: torch.Tensor, img: torch.Tensor, lang_mask: torch.Tensor, img_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        for encoder in self.enc_list:
            lang = encoder(lang, lang_mask)
        for decoder in self.dec_list:
            img = decoder(img, lang, img_mask, lang_mask)
        return lang, img


class ReferenceAttFlat(nn.Module):
    def __init__(self, hidden: int, mlp_size: int, glimpses: int, out_size: int, dropout: float):
        super().__init__()
        self.glimpses = glimpses
        self.mlp = MLP(hidden, mlp_size, glimpses, dropout)
        self.linear_merge = nn.Linear(hidden * glimpses, out_size)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        weights = F.softmax(self.mlp(x).masked_fill(x_mask.squeeze(1).squeeze(1).unsqueeze(2), -1e9), dim=1)
        pooled = [torch.sum(weights[:, :, g: g + 1] * x, dim=1) for g in range(self.glimpses)]
        return self.linear_merge(torch.cat(pooled, dim=1))


class ReferenceMcan(nn.Module):
    """mcan-vqa's `Net`: img_feat (B, 100, 2048) with zero rows after the boxes, ques_ix (B, 14) -> sigmoid scores."""

    def __init__(self, vocab_size: int, num_answers: int, hidden: int = 512, flat_out: int = 1024, heads: int = 8,
                 layers: int = 6, dropout: float = 0.1, embed_dim: int = 300, feature_dim: int = 2048):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden, num_layers=1, batch_first=True)
        self.img_feat_linear = nn.Linear(feature_dim, hidden)
        self.backbone = ReferenceBackbone(hidden, heads, layers, dropout)
        self.attflat_img = ReferenceAttFlat(hidden, 512, 1, flat_out, dropout)
        self.attflat_lang = ReferenceAttFlat(hidden, 512, 1, flat_out, dropout)
        self.proj_norm = ReferenceLayerNorm(flat_out)
        self.proj = nn.Linear(flat_out, num_answers)

    @staticmethod
    def make_mask(feature: torch.Tensor) -> torch.Tensor:
        return (torch.sum(torch.abs(feature), dim=-1) == 0).unsqueeze(1).unsqueeze(2)

    def forward(self, img_feat: torch.Tensor, ques_ix: torch.Tensor) -> torch.Tensor:
        lang_mask, img_mask = self.make_mask(ques_ix.unsqueeze(2)), self.make_mask(img_feat)
        lang, _ = self.lstm(self.embedding(ques_ix))
        img = self.img_feat_linear(img_feat)
        lang, img = self.backbone(lang, img, lang_mask, img_mask)
        fused = self.proj_norm(self.attflat_lang(lang, lang_mask) + self.attflat_img(img, img_mask))
        return torch.sigmoid(self.proj(fused))


def mcan_training_step(model: ReferenceMcan, optimizer: torch.optim.Optimizer, img_feat: torch.Tensor,
                       ques_ix: torch.Tensor, targets: torch.Tensor) -> None:
    """mcan-vqa's train_engine step (one gradient-accumulation split, no gradient clipping)."""
    optimizer.zero_grad()
    loss = nn.BCELoss(reduction="sum")(model(img_feat, ques_ix), targets)
    loss.backward()
    optimizer.step()


class ReferenceTextProcessor(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int, question_dim: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        self.tanh = nn.Tanh()
        self.lstm = nn.LSTM(input_size=embed_dim, hidden_size=question_dim, num_layers=1)

    def forward(self, q: torch.Tensor, q_len: list[int]) -> torch.Tensor:
        packed = pack_padded_sequence(self.tanh(self.drop(self.embedding(q))), q_len, batch_first=True)
        _, (_, cell) = self.lstm(packed)
        return cell.squeeze(0)


class ReferenceSaaaAttention(nn.Module):
    def __init__(self, v_features: int, q_features: int, mid_features: int, glimpses: int, dropout: float):
        super().__init__()
        self.v_conv = nn.Conv2d(v_features, mid_features, 1, bias=False)
        self.q_lin = nn.Linear(q_features, mid_features)
        self.x_conv = nn.Conv2d(mid_features, glimpses, 1)
        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, v: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        v = self.v_conv(self.drop(v))
        q = self.q_lin(self.drop(q))
        tiled = q.view(*q.shape, 1, 1).expand_as(v)
        return self.x_conv(self.drop(self.relu(v + tiled)))


def reference_apply_attention(features: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """pytorch-vqa's apply_attention: features (n, c, 14, 14), attention (n, g, 14, 14) -> (n, g * c)."""
    n, c = features.shape[:2]
    glimpses = attention.size(1)
    features = features.view(n, c, -1)
    s = features.size(2)
    weights = F.softmax(attention.view(n * glimpses, -1), dim=1)
    expanded = [n, glimpses, c, s]
    weighted = features.view(n, 1, c, s).expand(*expanded) * weights.view(n, glimpses, 1, s).expand(*expanded)
    return weighted.sum(dim=3).view(n, -1)


class ReferenceSaaaClassifier(nn.Sequential):
    def __init__(self, in_features: int, mid_features: int, out_features: int, dropout: float):
        super().__init__()
        self.add_module("drop1", nn.Dropout(dropout))
        self.add_module("lin1", nn.Linear(in_features, mid_features))
        self.add_module("relu", nn.ReLU())
        self.add_module("drop2", nn.Dropout(dropout))
        self.add_module("lin2", nn.Linear(mid_features, out_features))


class ReferenceSaaa(nn.Module):
    """pytorch-vqa's `Net`: v (B, 2048, 14, 14), q (B, T) sorted by length, q_len (B,) -> answer logits."""

    def __init__(self, vocab_size: int, num_answers: int, feature_dim: int = 2048, glimpses: int = 2):
        super().__init__()
        self.text = ReferenceTextProcessor(vocab_size, 300, 1024, 0.5)
        self.attention = ReferenceSaaaAttention(feature_dim, 1024, 512, glimpses, 0.5)
        self.classifier = ReferenceSaaaClassifier(glimpses * feature_dim + 1024, 1024, num_answers, 0.5)

    def forward(self, v: torch.Tensor, q: torch.Tensor, q_len: torch.Tensor) -> torch.Tensor:
        question = self.text(q, list(q_len.data))
        v = v / (v.norm(p=2, dim=1, keepdim=True).expand_as(v) + 1e-8)
        attended = reference_apply_attention(v, self.attention(v, question))
        return self.classifier(torch.cat([attended, question], dim=1))


def saaa_training_step(model: ReferenceSaaa, optimizer: torch.optim.Optimizer, v: torch.Tensor, q: torch.Tensor,
                       q_len: torch.Tensor, targets: torch.Tensor) -> None:
    """pytorch-vqa's train.py step: soft-target cross-entropy from -log_softmax, then Adam."""
    nll = -F.log_softmax(model(v, q, q_len), dim=1)
    loss = (nll * targets / 10).sum(dim=1).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
