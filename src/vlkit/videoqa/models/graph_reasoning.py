"""The layers of DualVGR's reasoning units (`vlkit.videoqa.models.dualvgr`), with the reference's parameter names.

Word attention pooling the question into a query, the query punishment gate, multi-head graph attention
over clip nodes whose projected features the gate scales, attention over the common and specific views,
MFB fusion of appearance and motion, and the two auxiliary losses (covariance matching of the common
views, HSIC between specific and common views). Shapes and the repository's formulas are in each
docstring; `dualvgr.py`'s module docstring lists where vlkit follows or departs from the repository.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

class WordAttention(nn.Module):
    """One unit's query: the word embeddings weighted by a softmax (over real words) of their states' scores."""

    def __init__(self, module_dim: int):
        super().__init__()
        self.feat_enhance = nn.Linear(module_dim, module_dim)
        self.fc = nn.Linear(module_dim, 1)

    def forward(self, words: torch.Tensor, word_states: torch.Tensor, word_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """words (B, L, E), word_states (B, L, D), word_mask (B, L) bool -> query (B, E), weights (B, L)."""
        scores = self.fc(F.normalize(self.feat_enhance(word_states), p=2, dim=-1)).squeeze(-1)  # (B, L)
        weights = torch.softmax(scores.masked_fill(~word_mask, float("-inf")), dim=1)  # (B, L)
        return torch.einsum("bl,ble->be", weights, words), weights


class QueryPunishment(nn.Module):
    """The gate sigmoid(node . W q) of each node (W: Linear(word_dim, D) with bias)."""

    def __init__(self, word_dim: int, module_dim: int):
        super().__init__()
        self.query_weight = nn.Linear(word_dim, module_dim)

    def forward(self, query: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
        """query (B, E), nodes (B, C, D) -> gates (B, C, 1) in (0, 1)."""
        return torch.sigmoid(torch.einsum("bcd,bd->bc", nodes, self.query_weight(query))).unsqueeze(-1)


class GraphAttentionHead(nn.Module):
    """The parameters of one GAT head: W (D -> H) and the pair scorer a (2H -> 1), as the reference names them;
    `MultiHeadGraphAttention` runs all heads at once."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.W = nn.Linear(in_dim, out_dim)
        self.a = nn.Linear(2 * out_dim, 1)


class MultiHeadGraphAttention(nn.Module):
    """Multi-head GAT with the query punishment (the reference's `punishGAT`): dropout on the nodes; per head
    W h, pair scores LeakyReLU(a . [W h_i || W h_j] + b) softmaxed over i's neighbours, dropout on them,
    ELU(sum_j att_ij gate_j W h_j); heads `attention_0..` concatenated; dropout."""

    def __init__(self, module_dim: int, heads: int, leaky_slope: float, dropout: float):
        super().__init__()
        self.heads, self.leaky_slope = heads, leaky_slope
        for head in range(heads):
            self.add_module(f"attention_{head}", GraphAttentionHead(module_dim, module_dim // heads))
        self.dropout = nn.Dropout(dropout)

    def head_parameters(self) -> list[GraphAttentionHead]:
        """The heads in concatenation order."""
        return [getattr(self, f"attention_{head}") for head in range(self.heads)]

    def project(self, nodes: torch.Tensor) -> torch.Tensor:
        """nodes (B, C, D) -> W h of every head (B, heads, C, H), all heads in one matmul."""
        heads = self.head_parameters()
        weight, bias = torch.cat([h.W.weight for h in heads]), torch.cat([h.W.bias for h in heads])
        projected = F.linear(nodes, weight, bias)  # (B, C, heads * H)
        return projected.view(*nodes.shape[:2], self.heads, -1).transpose(1, 2)

    def attention(self, projected: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """projected (B, heads, C, H), adjacency (C, C) bool with self-loops -> weights (B, heads, C, C) before
        dropout; row i of each head is a softmax over the neighbours j of node i, zero elsewhere."""
        heads = self.head_parameters()
        scorer = torch.stack([h.a.weight.view(2, -1) for h in heads])  # (heads, 2, H): halves for W h_i, W h_j
        scorer_bias = torch.cat([h.a.bias for h in heads])[:, None, None]  # (heads, 1, 1)
        source = torch.einsum("bnch,nh->bnc", projected, scorer[:, 0])  # (B, heads, C)
        target = torch.einsum("bnch,nh->bnc", projected, scorer[:, 1])
        scores = F.leaky_relu(source[..., :, None] + target[..., None, :] + scorer_bias, self.leaky_slope)
        return torch.softmax(scores.masked_fill(~adjacency, float("-inf")), dim=-1)

    def forward(self, nodes: torch.Tensor, adjacency: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """nodes (B, C, D), adjacency (C, C) bool, gates (B, C, 1) -> (B, C, D)."""
        projected = self.project(self.dropout(nodes))  # (B, heads, C, H)
        weights = self.dropout(self.attention(projected, adjacency))  # (B, heads, C, C)
        heads = F.elu(weights @ (projected * gates[:, None]))  # (B, heads, C, H)
        return self.dropout(heads.transpose(1, 2).flatten(2))


class ViewAttention(nn.Module):
    """Per node, a softmax over its views (common, specific) of Linear-tanh-Linear scores weights their sum."""

    def __init__(self, module_dim: int):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(module_dim, module_dim), nn.Tanh(),
                                     nn.Linear(module_dim, 1, bias=False))

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        """views (B, V, C, D) -> (B, C, D)."""
        return (torch.softmax(self.project(views), dim=1) * views).sum(dim=1)


class MFB(nn.Module):
    """Multi-modal factorised bilinear pooling: ELU(Linear x0) * ELU(Linear x1), sum-pooled over `factor`
    consecutive entries, -> Linear -> ELU."""

    def __init__(self, module_dim: int, mm_dim: int, factor: int):
        super().__init__()
        self.mm_dim, self.factor = mm_dim, factor
        self.linear0 = nn.Linear(module_dim, mm_dim * factor)
        self.linear1 = nn.Linear(module_dim, mm_dim * factor)
        self.linear_out = nn.Linear(mm_dim, module_dim)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """first, second (..., D) -> fused (..., D)."""
        product = F.elu(self.linear0(first)) * F.elu(self.linear1(second))  # (..., mm * factor)
        pooled = product.view(*product.shape[:-1], self.mm_dim, self.factor).sum(-1)  # (..., mm)
        return F.elu(self.linear_out(pooled))


def covariance_matching_loss(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """first, second (B, C, D) -> mean squared difference of their C x C Gram matrices after centring the
    nodes over the clips and L2-normalising each node (scalar)."""
    grams = []
    for nodes in (first, second):
        nodes = F.normalize(nodes - nodes.mean(dim=1, keepdim=True), p=2, dim=2)
        grams.append(nodes @ nodes.transpose(1, 2))
    return ((grams[0] - grams[1]) ** 2).mean()


def hsic_loss(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """first, second (B, C, D) -> sum over the batch of trace(R K1 R K2), K = X X^T, R = I - 11^T / C (scalar)."""
    clips = first.shape[1]
    centring = torch.eye(clips, dtype=first.dtype, device=first.device) - 1.0 / clips
    kernel_first = centring @ (first @ first.transpose(1, 2))  # (B, C, C)
    kernel_second = centring @ (second @ second.transpose(1, 2))
    return torch.einsum("bij,bji->", kernel_first, kernel_second)
