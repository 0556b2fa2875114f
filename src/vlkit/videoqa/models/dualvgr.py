"""DualVGR: A Dual-Visual Graph Reasoning Unit for Video Question Answering (Wang et al., IEEE TMM 2021).

As NJUPT-MCC/DualVGR-VideoQA builds it (model/models.py, model/Preprocessing.py, model/GraphNN.py,
model/utils.py, model/Attention.py, model/fusions/fusions.py, utils.py, train.py):

- question: GloVe words (300) -> dropout 0.15 -> tanh; two BiLSTMs (hidden module_dim / 2 per
  direction) read them: one gives the contextual word states (B, L, D), the other's last hidden states
  of both directions, concatenated and dropped out (0.18), are the sentence vector q (B, D);
- appearance: each clip's F frame features -> dropout 0.15 -> tanh -> a BiLSTM; its last hidden states
  (both directions, dropout 0.18) are the clip's node (B, C, D). Motion: one Linear per clip (B, C, D);
- a complete graph over the C clips with self-loops; T = 2 DualVGR units, each:
  word attention (L2-normalised Linear of the word states -> Linear -> softmax over the real words)
  pooling the tanh'd word embeddings into a query (B, 300); query punishment, a gate
  sigmoid(node . W q) per node, one for appearance and one for motion; four multi-head GATs (4 heads of
  D / 4, LeakyReLU 0.01 on the pair scores, dropout 0.15 on input, attention and output, ELU per head):
  appearance-specific, appearance-common, motion-specific, motion-common, each scaling the projected
  node features W h by the gate before aggregating; attention over the {common, specific} pair per node
  (Linear-tanh-Linear, softmax over the two); a residual update of the appearance and motion nodes;
- MFB fusion of appearance and motion per clip (256 x factor 2, ELU in and out); self-attention pooling
  over the clips (dropout 0.15, bias-free Linear, ELU, Linear -> softmax); concat with Linear(q);
  classifier Dropout-Linear(2D, D)-ELU-BatchNorm1d-Dropout-Linear(D, A);
- losses (train.py): cross-entropy + alpha * mean over units of the covariance-matching loss between the
  appearance-common and motion-common nodes + beta * mean over units of the HSIC between each specific
  and common pair (appearance and motion). alpha = 1 and beta = 1e-8 are train.py's argument defaults.

Where the issue text and the repository differ, this follows the repository:
- the query attention pools the *word embeddings* (tanh'd GloVe, word_dim), not the contextual states;
  the contextual states only score the words. So `W` of the query punishment maps word_dim -> D;
- the gate scales W h inside each GAT head (after the pair scores are computed from the unscaled W h),
  not the node features before the GAT; the common and specific GATs of a modality share one gate;
- the HSIC is summed over the batch (not averaged), unnormalised: trace(R K1 R K2), R = I - 11^T / C,
  K = X X^T; the covariance-matching loss centres the nodes over the clips, L2-normalises each node and
  averages the squared differences of the two C x C Gram matrices;
- `unit_layers` is not passed by train.py, so the reference trains with its default 2 units.
Departures: the word attention is a masked softmax; the repository takes a softmax over every position,
zeroes the padding and renormalises with +1e-5 in the denominator, so its weights differ from these by a
relative 1e-5 and depend (at that level) on the padding. The graph is the complete graph over however
many clips the batch has (the reference fixes 8 for MSVD-QA, 16 for MSRVTT-QA). Pair scores are computed
as a_1 . W h_i + a_2 . W h_j + b, the same as the reference's a([W h_i || W h_j]), for all heads at once.
The reference passes dropout 0.15 to its one-layer word-state LSTM, where PyTorch ignores it; so does this.
Its validate.py takes the number of units from the command line (default 1), not from the checkpoint: a
checkpoint's T is the number of `visual_input_unit.queryAttn.*` entries.

Parameter names are the reference's (`linguistic_input_unit.concatRNN.rnn.weight_ih_l0`,
`visual_input_unit.appearance_GCN.0.attention_3.W.weight`, `visual_input_unit.visualfusion.linear0.bias`,
`output_unit.classifier.3.running_mean`, ...), so its checkpoints load with `load_state_dict`. The word
embedding is `linguistic_input_unit.encoder_embed` (nn.Embedding(vocab, word_dim)); the reference starts
it uniform(-1, 1) and copies GloVe (glove.840B.300d) into it when the recipe's `glove` is on.
Initialisation as the reference: Xavier-uniform weights and zero biases for every Linear and LSTM.

Reference checkpoints: train.py `save_checkpoint` writes torch.save({'epoch': int, 'state_dict':
model.state_dict(), 'optimizer': Adam state_dict, 'model_kwargs': {'vision_dim': 2048, 'module_dim': 768,
'word_dim': 300, 'num_of_nodes': 8 (MSVD-QA) | 16 (MSRVTT-QA), 'graph_module': 'GAT', 'graph_layers': 1}})
to results/<exp_name>/ckpt/DualVGR1<time>_model.pt at each best validation accuracy (keys carry a
`module.` prefix only when trained with multi_gpus under DataParallel). Constructor:
DualVGR(vision_dim=2048, module_dim=768, word_dim=300, vocab=None, num_of_nodes=8, graph_module='GCN',
graph_layers=1, unit_layers=2); vocab is the dict with 'question_token_to_idx' and 'answer_token_to_idx'
(MSVD-QA: the 1852 training answers + '<UNK0>', '<UNK1>' = 1854 classes); only graph_module='GAT' builds;
graph_layers > 1 indexes its GAT lists wrongly, so 1 is the only meaningful value (and the only one here).
vision_dim is both the appearance (ResNet-101) and motion (ResNeXt-101) size.

Parameters at the MSVD-QA recipe (D 768, T 2, 1854 answers), without the word embedding: 27,249,249
(the paper's 27.25M); tests/videoqa/models/test_dualvgr.py counts them layer by layer.
Recipe: Adam lr 1e-4 halved every 10 epochs, batch 256, 25 epochs, gradient norm clipped at 12.
Reported test accuracy: MSVD-QA 39.03 (what 28.65, who 53.82, how 80.00, when 70.69, where 46.43);
MSRVTT-QA 35.52.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from vlkit.core.errors import InvalidValue, VlkitError
from vlkit.core.validation import check_fraction, check_non_negative, check_positive_int
from vlkit.nn.recurrent import bidirectional_last_states
from vlkit.videoqa.models.graph_reasoning import (
    MFB,
    MultiHeadGraphAttention,
    QueryPunishment,
    ViewAttention,
    WordAttention,
    covariance_matching_loss,
    hsic_loss,
)
from vlkit.videoqa.models.registry import register_model


@dataclass
class DualVGROptions:
    """Options of `dualvgr` (the `model` config section); defaults are the reference's MSVD-QA recipe."""

    appearance_dim: int = 2048  # per-frame appearance features (ResNet-101 pool5)
    motion_dim: int = 2048  # per-clip motion features (ResNeXt-101 3D)
    module_dim: int = 768
    word_dim: int = 300
    units: int = 2  # DualVGR units T
    gat_heads: int = 4  # each head has module_dim / gat_heads outputs
    gat_leaky_slope: float = 0.01
    gat_dropout: float = 0.15
    mfb_dim: int = 256
    mfb_factor: int = 2
    input_dropout: float = 0.15  # on word embeddings and frame features, before their tanh
    state_dropout: float = 0.18  # on the last LSTM states (question vector, appearance nodes)
    dropout: float = 0.15  # clip pooling and classifier
    common_loss_weight: float = 1.0  # alpha: covariance matching of the two common GATs
    independence_loss_weight: float = 1e-8  # beta: HSIC between specific and common GATs
    glove: Optional[str] = None  # GloVe text file the task copies into the word embedding; recipes: "required" | "none"

    def __post_init__(self) -> None:
        check_positive_int(self, "appearance_dim", "motion_dim", "module_dim", "word_dim", "units", "gat_heads",
                           "mfb_dim", "mfb_factor")
        for name in ("gat_dropout", "input_dropout", "state_dropout", "dropout"):
            check_fraction(self, name, low_open=False)
        check_non_negative(self, "gat_leaky_slope", "common_loss_weight", "independence_loss_weight")
        if self.module_dim % 2 or self.module_dim % self.gat_heads:
            raise InvalidValue("module_dim", self.module_dim,
                               f"even (two LSTM directions) and divisible by gat_heads={self.gat_heads}")


def bidirectional_last_state(hidden: torch.Tensor) -> torch.Tensor:
    """hidden (2, N, H) last states of a one-layer BiLSTM -> (N, 2H): forward then backward."""
    return torch.cat([hidden[0], hidden[1]], dim=-1)


class WordStateLSTM(nn.Module):
    """The BiLSTM whose outputs are the contextual word states (the reference's `DynamicRNN`, weights in `rnn`)."""

    def __init__(self, word_dim: int, module_dim: int):
        super().__init__()
        self.rnn = nn.LSTM(word_dim, module_dim // 2, batch_first=True, bidirectional=True)

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """words (B, L, E), lengths (B,) -> states (B, L, D), zero after each question's last word."""
        packed = pack_padded_sequence(words, lengths.cpu(), batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=words.shape[1])
        return states


class QuestionEncoder(nn.Module):
    """Word embeddings -> (sentence vector q, tanh'd word embeddings, contextual word states)."""

    def __init__(self, options: DualVGROptions, vocab_size: int):
        super().__init__()
        self.encoder_embed = nn.Embedding(vocab_size, options.word_dim)
        self.concatRNN = WordStateLSTM(options.word_dim, options.module_dim)
        self.encoder = nn.LSTM(options.word_dim, options.module_dim // 2, batch_first=True, bidirectional=True)
        self.embedding_dropout = nn.Dropout(options.input_dropout)
        self.final_dropout = nn.Dropout(options.state_dropout)

    def forward(self, questions: torch.Tensor, lengths: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """questions (B, L) int64, lengths (B,) -> q (B, D), words (B, L, E), word states (B, L, D)."""
        words = torch.tanh(self.embedding_dropout(self.encoder_embed(questions)))  # (B, L, E)
        word_states = self.concatRNN(words, lengths)  # (B, L, D)
        packed = pack_padded_sequence(words, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (hidden, _) = self.encoder(packed)  # (2, B, D / 2)
        sentence = self.final_dropout(bidirectional_last_state(hidden))  # (B, D)
        return sentence, words, word_states


class AppearanceEncoder(nn.Module):
    """Each clip's frame features -> dropout -> tanh -> BiLSTM -> last states: one node per clip."""

    def __init__(self, options: DualVGROptions):
        super().__init__()
        self.encoder = nn.LSTM(options.appearance_dim, options.module_dim // 2, batch_first=True, bidirectional=True)
        self.embedding_dropout = nn.Dropout(options.input_dropout)
        self.finalvisual_dropout = nn.Dropout(options.state_dropout)

    def forward(self, appearance: torch.Tensor) -> torch.Tensor:
        """appearance (B, C, F, Da) -> clip nodes (B, C, D)."""
        batch, clips, frames, dim = appearance.shape
        frames_in = torch.tanh(self.embedding_dropout(appearance)).reshape(batch * clips, frames, dim)
        last_states = bidirectional_last_states(self.encoder, frames_in)  # (B * C, D)
        return self.finalvisual_dropout(last_states).view(batch, clips, -1)


def unit_graph_attentions(options: DualVGROptions) -> nn.ModuleList:
    """One multi-head GAT per unit."""
    return nn.ModuleList(MultiHeadGraphAttention(options.module_dim, options.gat_heads, options.gat_leaky_slope,
                                                 options.gat_dropout) for _ in range(options.units))


@dataclass
class UnitOutputs:
    """What the DualVGR units give: fused clip nodes, per-unit word attention and the GATs' views per unit."""

    fused: torch.Tensor  # (B, C, D)
    word_attention: torch.Tensor  # (B, T, L)
    common_appearance: list[torch.Tensor]  # T x (B, C, D)
    common_motion: list[torch.Tensor]
    specific_appearance: list[torch.Tensor]
    specific_motion: list[torch.Tensor]


class DualVGRUnits(nn.Module):
    """T DualVGR units over the clip graph, then MFB fusion (the reference's `DualVGRUnit_multiple`)."""

    def __init__(self, options: DualVGROptions):
        super().__init__()
        units, dim = options.units, options.module_dim
        self.queryAttn = nn.ModuleList(WordAttention(dim) for _ in range(units))
        self.queryPunish_appear = nn.ModuleList(QueryPunishment(options.word_dim, dim) for _ in range(units))
        self.queryPunish_motion = nn.ModuleList(QueryPunishment(options.word_dim, dim) for _ in range(units))
        self.appearance_GCN, self.motion_GCN = unit_graph_attentions(options), unit_graph_attentions(options)
        self.acGCN, self.mcGCN = unit_graph_attentions(options), unit_graph_attentions(options)  # common views
        self.attention_appearance = nn.ModuleList(ViewAttention(dim) for _ in range(units))
        self.attention_motion = nn.ModuleList(ViewAttention(dim) for _ in range(units))
        self.visualfusion = MFB(dim, options.mfb_dim, options.mfb_factor)

    def forward(self, appearance: torch.Tensor, motion: torch.Tensor, words: torch.Tensor,
                word_states: torch.Tensor, word_mask: torch.Tensor) -> UnitOutputs:
        """appearance, motion (B, C, D) clip nodes; words (B, L, E); word_states (B, L, D); word_mask (B, L)."""
        clips = appearance.shape[1]
        adjacency = torch.ones(clips, clips, dtype=torch.bool, device=appearance.device)  # complete + self-loops
        word_attention, common_a, common_m, specific_a, specific_m = [], [], [], [], []
        for unit in range(len(self.queryAttn)):
            query, weights = self.queryAttn[unit](words, word_states, word_mask)  # (B, E), (B, L)
            gate_a = self.queryPunish_appear[unit](query, appearance)  # (B, C, 1)
            gate_m = self.queryPunish_motion[unit](query, motion)
            common_a.append(self.acGCN[unit](appearance, adjacency, gate_a))
            specific_a.append(self.appearance_GCN[unit](appearance, adjacency, gate_a))
            common_m.append(self.mcGCN[unit](motion, adjacency, gate_m))
            specific_m.append(self.motion_GCN[unit](motion, adjacency, gate_m))
            appearance = appearance + self.attention_appearance[unit](torch.stack([common_a[-1], specific_a[-1]], 1))
            motion = motion + self.attention_motion[unit](torch.stack([common_m[-1], specific_m[-1]], 1))
            word_attention.append(weights)
        return UnitOutputs(self.visualfusion(appearance, motion), torch.stack(word_attention, dim=1),
                           common_a, common_m, specific_a, specific_m)


class ClipSelfAttention(nn.Module):
    """Self-attention pooling over clips: dropout, softmax of Linear(ELU(V x)), weighted sum."""

    def __init__(self, module_dim: int, dropout: float):
        super().__init__()
        self.v_proj = nn.Linear(module_dim, module_dim, bias=False)
        self.attn = nn.Linear(module_dim, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """clips (B, C, D) -> pooled (B, D), weights (B, C)."""
        clips = self.dropout(clips)
        weights = torch.softmax(self.attn(F.elu(self.v_proj(clips))).squeeze(-1), dim=1)  # (B, C)
        return torch.einsum("bc,bcd->bd", weights, clips), weights


class AnswerClassifier(nn.Module):
    """[video; Linear(q)] -> Dropout-Linear-ELU-BatchNorm-Dropout-Linear -> answer logits."""

    def __init__(self, module_dim: int, num_answers: int, dropout: float):
        super().__init__()
        self.question_proj = nn.Linear(module_dim, module_dim)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * module_dim, module_dim), nn.ELU(),
                                        nn.BatchNorm1d(module_dim), nn.Dropout(dropout),
                                        nn.Linear(module_dim, num_answers))

    def forward(self, question: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        """question (B, D), video (B, D) -> logits (B, A)."""
        return self.classifier(torch.cat([video, self.question_proj(question)], dim=1))


class DualVGR(nn.Module):
    """appearance (B, C, F, Da), motion (B, C, Dm), questions (B, L), question_lengths (B,) ->
    logits (B, A), auxiliary_loss (), clip_attention (B, C), word_attention (B, T, L)."""

    def __init__(self, options: DualVGROptions, vocab_size: int, num_answers: int):
        super().__init__()
        self.options = options
        dim = options.module_dim
        self.linguistic_input_unit = QuestionEncoder(options, vocab_size)
        self.visual_appearance_input_unit = AppearanceEncoder(options)
        self.visual_motion_input_unit = nn.Linear(options.motion_dim, dim)
        self.visual_input_unit = DualVGRUnits(options)
        self.feature_aggregation = ClipSelfAttention(dim, options.dropout)
        self.output_unit = AnswerClassifier(dim, num_answers, options.dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform weights and zero biases for every Linear and LSTM; word embeddings uniform(-1, 1)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LSTM):
                for name, parameter in module.named_parameters():
                    (nn.init.zeros_ if name.startswith("bias") else nn.init.xavier_uniform_)(parameter)
        nn.init.uniform_(self.linguistic_input_unit.encoder_embed.weight, -1.0, 1.0)

    def check_inputs(self, batch: dict[str, torch.Tensor]) -> None:
        """Refuse features of the wrong sizes and question lengths outside 1..L with a VlkitError."""
        appearance, motion = batch["appearance"], batch["motion"]
        lengths, length = batch["question_lengths"], batch["questions"].shape[1]
        if appearance.dim() != 4 or appearance.shape[-1] != self.options.appearance_dim:
            raise VlkitError(f"appearance features have shape {tuple(appearance.shape)}; expected (batch, clips, "
                             f"frames, model.appearance_dim={self.options.appearance_dim})")
        if motion.shape != (*appearance.shape[:2], self.options.motion_dim):
            raise VlkitError(f"motion features have shape {tuple(motion.shape)}; expected (batch, clips) = "
                             f"{tuple(appearance.shape[:2])} followed by model.motion_dim={self.options.motion_dim}")
        if bool((lengths < 1).any()) or bool((lengths > length).any()):
            raise VlkitError(f"question lengths must lie in 1..{length} (the padded length); got {lengths.tolist()}")

    def encode(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The visual encoders: appearance (B, C, F, Da), motion (B, C, Dm) -> clip nodes (B, C, D) each."""
        appearance = self.visual_appearance_input_unit(batch["appearance"])
        return appearance, self.visual_motion_input_unit(batch["motion"])

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.check_inputs(batch)
        return self.answer(batch, *self.encode(batch))

    def answer(self, batch: dict[str, torch.Tensor], appearance: torch.Tensor, motion: torch.Tensor
               ) -> dict[str, torch.Tensor]:
        """The question encoder, the units, pooling and classifier over encoded clip nodes (B, C, D) each."""
        questions, lengths = batch["questions"], batch["question_lengths"]
        question, words, word_states = self.linguistic_input_unit(questions, lengths)
        word_mask = torch.arange(questions.shape[1], device=questions.device) < lengths.to(questions.device)[:, None]
        units = self.visual_input_unit(appearance, motion, words, word_states, word_mask)
        video, clip_attention = self.feature_aggregation(units.fused)  # (B, D), (B, C)
        return {"logits": self.output_unit(question, video), "auxiliary_loss": self.auxiliary_loss(units),
                "clip_attention": clip_attention, "word_attention": units.word_attention}

    def auxiliary_loss(self, units: UnitOutputs) -> torch.Tensor:
        """alpha * mean over units of the common covariance matching + beta * mean over units of the HSIC of
        each modality's specific and common nodes (scalar); zero (without computing them) when both are 0."""
        alpha, beta = self.options.common_loss_weight, self.options.independence_loss_weight
        loss = units.fused.new_zeros(())
        count = len(units.common_appearance)
        for unit in range(count):
            if alpha:
                loss = loss + alpha / count * covariance_matching_loss(units.common_appearance[unit],
                                                                       units.common_motion[unit])
            if beta:
                loss = loss + beta / count * (hsic_loss(units.specific_appearance[unit], units.common_appearance[unit])
                                              + hsic_loss(units.specific_motion[unit], units.common_motion[unit]))
        return loss


@register_model("dualvgr", DualVGROptions)
def build_dualvgr(options: DualVGROptions, vocab_size: int, num_answers: int) -> nn.Module:
    """Build DualVGR for a question vocabulary and an answer list of the given sizes."""
    return DualVGR(options, vocab_size, num_answers)
