"""NJUPT-MCC/DualVGR-VideoQA's DualVGR and its training step, re-written as modules for a speed baseline.

The modules compute what the repository's do, laid out the way it lays them out (model/models.py
`DualVGR` and `DualVGRUnit_multiple`, model/Preprocessing.py `DynamicRNN`,
`InputUnitLinguisticDynamic` and `VisualAppearanceEncoder`, model/utils.py `QueryAttn` and
`QueryPunish`, model/GraphNN.py `PunishGraphAttentionLayer`, `punishGAT` and `AttentionSFGCN`,
model/fusions/fusions.py `MFB`, model/AnswerDecoder.py `ContextSelfAttn` and
`SimpleOutputUnitOpenEnded`):

- the word-state BiLSTM sorts the batch by length, packs, runs, unpacks, restores the order and pads
  back to the question width; the sentence BiLSTM packs the words unsorted;
- the frame features are transposed to (F, B * C, Da) (two `.contiguous()` copies) for a
  sequence-first BiLSTM;
- the word attention is a softmax over every position, multiplied by a length mask built row by row
  in a Python loop, divided by its sum + 1e-5;
- the query punishment gate is expanded to (B, C, D / 4) and multiplies each head's W h;
- each GAT head is its own module, run one after the other in a Python loop; a head builds every
  (i, j) pair [W h_i || W h_j] as a (B, C, C, 2H) tensor (`repeat` + `cat`) and scores it with
  `a`; the adjacency is the dense row-normalised complete graph with self-loops, selected by
  `torch.where(adj > 0, e, -9e15)`;
- each unit's specific and common GAT outputs are also kept in lists through `.cpu()` (a copy to the
  host on a GPU), and the losses move them back, as the repository's model and train.py do;
- train.py's step: `CrossEntropyLoss` + alpha * mean over units of `common_loss` + beta * mean over
  units of `loss_dependence` (the HSIC, summed over the batch by a Python loop of `torch.trace`),
  backward, `clip_grad_norm_(max_norm=12)`, Adam.

Departures, none of which changes the numbers: the question lengths are handed to
`pack_padded_sequence` on the CPU (the PyTorch versions since 1.7 refuse CUDA lengths); the adjacency
is a non-persistent buffer (the repository keeps it as a plain attribute created on 'cuda:1'); the
parameters keep PyTorch's default initialisation, since the benchmark loads vlkit's weights into them
(the state-dict keys are the repository's, which vlkit's `dualvgr` shares).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

GAT_HEADS = 4
GAT_DROPOUT = 0.15
GAT_LEAKY_SLOPE = 0.01
MFB_DIM = 256
MFB_FACTOR = 2
GRADIENT_CLIP_NORM = 12.0


class ReferenceDynamicRNN(nn.Module):
    """`DynamicRNN`: a BiLSTM over sequences sorted by length, outputs back in batch order, padded to a width."""

    def __init__(self, input_dim: int, hidden_dim: int):
        super().__init__()
        with warnings.catch_warnings():  # the repository passes dropout=0.15 to a one-layer LSTM, which ignores it
            warnings.simplefilter("ignore", UserWarning)
            self.rnn = nn.LSTM(input_dim, hidden_dim, num_layers=1, batch_first=True, dropout=0.15,
                               bidirectional=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, L, E), lengths (B,) -> outputs (B, width, 2H), last states (B, 2H)."""
        sorted_lengths, order = torch.sort(lengths, dim=0, descending=True)
        _, restore = torch.sort(order, dim=0)
        packed = pack_padded_sequence(x.index_select(0, order), sorted_lengths.cpu().numpy(), batch_first=True)
        outputs, (state, _) = self.rnn(packed)
        unpacked, _ = pad_packed_sequence(outputs, batch_first=True)
        outputs = unpacked.index_select(0, restore)
        if outputs.shape[1] < width:
            outputs = F.pad(outputs, [0, 0, 0, width - outputs.shape[1]])
        return outputs, torch.cat([state[0], state[1]], -1)


class ReferenceLinguisticInput(nn.Module):
    """`InputUnitLinguisticDynamic`: questions -> (question vector, tanh'd word embeddings, word states)."""

    def __init__(self, vocab_size: int, word_dim: int, module_dim: int):
        super().__init__()
        self.encoder_embed = nn.Embedding(vocab_size, word_dim)
        self.tanh = nn.Tanh()
        self.concatRNN = ReferenceDynamicRNN(word_dim, module_dim // 2)
        self.encoder = nn.LSTM(word_dim, module_dim // 2, batch_first=True, bidirectional=True)
        self.embedding_dropout = nn.Dropout(0.15)
        self.final_dropout = nn.Dropout(0.18)

    def forward(self, questions: torch.Tensor, lengths: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """questions (B, L), lengths (B,) -> q (B, D), words (B, L, E), word states (B, L, D)."""
        words = self.tanh(self.embedding_dropout(self.encoder_embed(questions)))
        word_states, _ = self.concatRNN(words, lengths, questions.shape[1])
        packed = pack_padded_sequence(words, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (last, _) = self.encoder(packed)
        question = self.final_dropout(torch.cat([last[0], last[1]], -1))
        return question, words, word_states


class ReferenceAppearanceEncoder(nn.Module):
    """`VisualAppearanceEncoder`: frames made sequence-first, a BiLSTM, its last states as the clip nodes."""

    def __init__(self, appearance_dim: int, module_dim: int):
        super().__init__()
        self.module_dim = module_dim
        self.tanh = nn.Tanh()
        self.encoder = nn.LSTM(appearance_dim, module_dim // 2, batch_first=False, bidirectional=True)
        self.embedding_dropout = nn.Dropout(0.15)
        self.finalvisual_dropout = nn.Dropout(0.18)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """clips (B, C, F, Da) -> nodes (B, C, D)."""
        batch, frames, dim = clips.shape[0], clips.shape[2], clips.shape[3]
        embedded = self.tanh(self.embedding_dropout(clips))
        embedded = torch.transpose(embedded, 0, 2).contiguous()  # (F, C, B, Da)
        embedded = torch.transpose(embedded, 1, 2).contiguous().view(frames, -1, dim)  # (F, B * C, Da)
        _, (last, _) = self.encoder(embedded)
        nodes = self.finalvisual_dropout(torch.cat([last[0], last[1]], -1))
        return nodes.view(batch, -1, self.module_dim)


class ReferenceQueryAttention(nn.Module):
    """`QueryAttn`: the word embeddings pooled by a softmax over all positions, masked and renormalised."""

    def __init__(self, module_dim: int):
        super().__init__()
        self.feat_enhance = nn.Linear(module_dim, module_dim)
        self.fc = nn.Linear(module_dim, 1)

    def forward(self, words: torch.Tensor, word_states: torch.Tensor, lengths: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """words (B, L, E), word_states (B, L, D), lengths (B,) -> query (B, E), weights (B, L)."""
        batch, width = lengths.shape[0], word_states.shape[1]
        keys = F.normalize(self.feat_enhance(word_states), p=2, dim=-1)
        weights = F.softmax(self.fc(keys).squeeze(2), dim=1)
        mask = torch.zeros((batch, width)).to(word_states.device)
        for row in range(batch):
            mask[row][:lengths[row]] = 1
        weights = weights * mask
        weights = weights / (weights.sum(1) + 1e-5).view(batch, 1).expand(batch, width)
        return torch.bmm(weights.unsqueeze(1), words).squeeze(1), weights


class ReferenceQueryPunish(nn.Module):
    """`QueryPunish`: sigmoid(node . W q) per node, expanded to one GAT head's width."""

    def __init__(self, word_dim: int, module_dim: int):
        super().__init__()
        self.query_weight = nn.Linear(word_dim, module_dim)

    def forward(self, query: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
        """query (B, E), nodes (B, C, D) -> gates (B, C, D / 4)."""
        scores = torch.sigmoid(torch.bmm(nodes, self.query_weight(query).unsqueeze(2)))  # (B, C, 1)
        return scores.expand(scores.shape[0], scores.shape[1], nodes.shape[2] // 4)


class ReferenceGATHead(nn.Module):
    """`PunishGraphAttentionLayer`: one head over every (i, j) pair of nodes, its W h scaled by the gates."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.out_dim = out_dim
        self.W = nn.Linear(in_dim, out_dim)
        self.a = nn.Linear(2 * out_dim, 1)
        self.leakyrelu = nn.LeakyReLU(GAT_LEAKY_SLOPE)

    def pairs(self, projected: torch.Tensor) -> torch.Tensor:
        """W h (B, N, H) -> [W h_i || W h_j] for every pair (B, N, N, 2H)."""
        batch, nodes = projected.shape[0], projected.shape[1]
        each_i = projected.repeat(1, 1, nodes).view(batch, nodes * nodes, self.out_dim)
        each_j = projected.repeat(1, nodes, 1)
        return torch.cat([each_i, each_j], dim=2).view(batch, nodes, nodes, 2 * self.out_dim)

    def forward(self, nodes: torch.Tensor, adjacency: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """nodes (B, N, D), adjacency (N, N), gates (B, N, H) -> (B, N, H)."""
        projected = self.W(nodes)
        scores = self.leakyrelu(self.a(self.pairs(projected)).squeeze(-1))  # (B, N, N)
        scores = torch.where(adjacency > 0, scores, -9e15 * torch.ones_like(scores))
        projected = projected * gates
        attention = F.dropout(F.softmax(scores, dim=-1), GAT_DROPOUT, training=self.training)
        return F.elu(torch.bmm(attention, projected))


class ReferencePunishGAT(nn.Module):
    """`punishGAT`: dropout, the heads `attention_0..3` one by one, concatenated, dropout."""

    def __init__(self, module_dim: int):
        super().__init__()
        self.heads = [ReferenceGATHead(module_dim, module_dim // GAT_HEADS) for _ in range(GAT_HEADS)]
        for index, head in enumerate(self.heads):
            self.add_module(f"attention_{index}", head)

    def forward(self, nodes: torch.Tensor, adjacency: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """nodes (B, N, D) -> (B, N, D)."""
        nodes = F.dropout(nodes, GAT_DROPOUT, training=self.training)
        nodes = torch.cat([head(nodes, adjacency, gates) for head in self.heads], dim=2)
        return F.dropout(nodes, GAT_DROPOUT, training=self.training)


class ReferenceViewAttention(nn.Module):
    """`AttentionSFGCN`: a softmax over the views (dim 1) of Linear-Tanh-Linear scores weights their sum."""

    def __init__(self, module_dim: int):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(module_dim, module_dim), nn.Tanh(),
                                     nn.Linear(module_dim, 1, bias=False))

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        """views (B, V, N, D) -> (B, N, D)."""
        weights = torch.softmax(self.project(views), dim=1)
        return (weights * views).sum(1)


class ReferenceMFB(nn.Module):
    """`MFB` with the repository's settings: ELU in and out, no normalisation, no dropout."""

    def __init__(self, module_dim: int):
        super().__init__()
        self.linear0 = nn.Linear(module_dim, MFB_DIM * MFB_FACTOR)
        self.linear1 = nn.Linear(module_dim, MFB_DIM * MFB_FACTOR)
        self.linear_out = nn.Linear(MFB_DIM, module_dim)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        """[x0, x1] each (B, N, D) -> (B, N, D)."""
        product = F.elu(self.linear0(inputs[0])) * F.elu(self.linear1(inputs[1]))
        pooled = product.view(product.shape[0], product.shape[1], MFB_DIM, MFB_FACTOR).sum(-1)
        return F.elu(self.linear_out(pooled))


class ReferenceDualVGRUnits(nn.Module):
    """`DualVGRUnit_multiple` with one graph layer: T units, then the MFB fusion of appearance and motion."""

    def __init__(self, word_dim: int, module_dim: int, num_of_nodes: int, unit_layers: int):
        super().__init__()
        self.layers = unit_layers
        self.queryAttn = nn.ModuleList([ReferenceQueryAttention(module_dim) for _ in range(unit_layers)])
        self.queryPunish_appear = nn.ModuleList([ReferenceQueryPunish(word_dim, module_dim)
                                                 for _ in range(unit_layers)])
        self.queryPunish_motion = nn.ModuleList([ReferenceQueryPunish(word_dim, module_dim)
                                                 for _ in range(unit_layers)])
        self.appearance_GCN = nn.ModuleList([ReferencePunishGAT(module_dim) for _ in range(unit_layers)])
        self.motion_GCN = nn.ModuleList([ReferencePunishGAT(module_dim) for _ in range(unit_layers)])
        self.acGCN = nn.ModuleList([ReferencePunishGAT(module_dim) for _ in range(unit_layers)])
        self.mcGCN = nn.ModuleList([ReferencePunishGAT(module_dim) for _ in range(unit_layers)])
        self.attention_appearance = nn.ModuleList([ReferenceViewAttention(module_dim) for _ in range(unit_layers)])
        self.attention_motion = nn.ModuleList([ReferenceViewAttention(module_dim) for _ in range(unit_layers)])
        self.visualfusion = ReferenceMFB(module_dim)
        with_self_loops = torch.ones(num_of_nodes, num_of_nodes) + torch.eye(num_of_nodes)
        self.register_buffer("adjacency", with_self_loops / with_self_loops.sum(1, keepdim=True), persistent=False)

    def forward(self, appearance: torch.Tensor, motion: torch.Tensor, word_states: torch.Tensor,
                words: torch.Tensor, lengths: torch.Tensor) -> tuple:
        """appearance, motion (B, C, D) -> fused (B, C, D), the last unit's fused views, and per unit (on the
        host) the common appearance, common motion, specific appearance and specific motion nodes (B, C, D)."""
        common_appearance, common_motion, specific_appearance, specific_motion = [], [], [], []
        for i in range(self.layers):
            query, _ = self.queryAttn[i](words, word_states, lengths)
            appearance_gates = self.queryPunish_appear[i](query, appearance)
            motion_gates = self.queryPunish_motion[i](query, motion)
            app_common = self.acGCN[i](appearance, self.adjacency, appearance_gates)
            app_specific = self.appearance_GCN[i](appearance, self.adjacency, appearance_gates)
            specific_appearance.append(app_specific.cpu())
            common_appearance.append(app_common.cpu())
            mot_common = self.mcGCN[i](motion, self.adjacency, motion_gates)
            mot_specific = self.motion_GCN[i](motion, self.adjacency, motion_gates)
            specific_motion.append(mot_specific.cpu())
            common_motion.append(mot_common.cpu())
            appearance_views = self.attention_appearance[i](torch.stack([app_common, app_specific], dim=1))
            motion_views = self.attention_motion[i](torch.stack([mot_common, mot_specific], dim=1))
            appearance = appearance + appearance_views
            motion = motion + motion_views
        fused = self.visualfusion([appearance, motion])
        return (fused, appearance_views, motion_views, common_appearance, common_motion, specific_appearance,
                specific_motion)


class ReferenceClipSelfAttention(nn.Module):
    """`ContextSelfAttn`: dropout, softmax over clips of attn(ELU(v_proj x)), weighted sum."""

    def __init__(self, module_dim: int):
        super().__init__()
        self.v_proj = nn.Linear(module_dim, module_dim, bias=False)
        self.attn = nn.Linear(module_dim, 1)
        self.activation = nn.ELU()
        self.dropout = nn.Dropout(0.15)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """clips (B, C, D) -> (B, D)."""
        clips = self.dropout(clips)
        weights = F.softmax(self.attn(self.activation(self.v_proj(clips))), dim=1)  # (B, C, 1)
        return (weights * clips).sum(1)


class ReferenceOutputUnit(nn.Module):
    """`SimpleOutputUnitOpenEnded`: [video; question_proj(q)] through the classifier."""

    def __init__(self, module_dim: int, num_answers: int):
        super().__init__()
        self.question_proj = nn.Linear(module_dim, module_dim)
        self.classifier = nn.Sequential(nn.Dropout(0.15), nn.Linear(module_dim * 2, module_dim), nn.ELU(),
                                        nn.BatchNorm1d(module_dim), nn.Dropout(0.15),
                                        nn.Linear(module_dim, num_answers))

    def forward(self, question: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        """question (B, D), video (B, D) -> logits (B, A)."""
        return self.classifier(torch.cat([video, self.question_proj(question)], 1))


class ReferenceDualVGR(nn.Module):
    """`DualVGR(vision_dim, module_dim, word_dim, vocab, num_of_nodes, 'GAT', graph_layers=1, unit_layers)`."""

    def __init__(self, vocab_size: int, num_answers: int, vision_dim: int = 2048, module_dim: int = 768,
                 word_dim: int = 300, num_of_nodes: int = 8, unit_layers: int = 2):
        super().__init__()
        self.feature_aggregation = ReferenceClipSelfAttention(module_dim)
        self.linguistic_input_unit = ReferenceLinguisticInput(vocab_size, word_dim, module_dim)
        self.visual_appearance_input_unit = ReferenceAppearanceEncoder(vision_dim, module_dim)
        self.visual_motion_input_unit = nn.Linear(vision_dim, module_dim)
        self.visual_input_unit = ReferenceDualVGRUnits(word_dim, module_dim, num_of_nodes, unit_layers)
        self.output_unit = ReferenceOutputUnit(module_dim, num_answers)

    def forward(self, appearance: torch.Tensor, motion: torch.Tensor, questions: torch.Tensor,
                lengths: torch.Tensor) -> tuple:
        """appearance (B, C, F, Da), motion (B, C, Dm), questions (B, L), lengths (B,) -> logits (B, A), the last
        unit's fused views, and the four per-unit node lists the losses read."""
        question, words, word_states = self.linguistic_input_unit(questions, lengths)
        appearance = self.visual_appearance_input_unit(appearance)
        motion = self.visual_motion_input_unit(motion)
        fused, *views_and_lists = self.visual_input_unit(appearance, motion, word_states, words, lengths)
        logits = self.output_unit(question, self.feature_aggregation(fused))
        return (logits, *views_and_lists)


def reference_common_loss(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """`common_loss`: (B, C, D) twice -> mean squared difference of the centred, normalised Gram matrices."""
    first = F.normalize(first - torch.mean(first, dim=1, keepdim=True), p=2, dim=2)
    second = F.normalize(second - torch.mean(second, dim=1, keepdim=True), p=2, dim=2)
    return torch.mean((torch.bmm(first, first.transpose(1, 2)) - torch.bmm(second, second.transpose(1, 2))) ** 2)


def reference_loss_dependence(first: torch.Tensor, second: torch.Tensor, nodes: int) -> torch.Tensor:
    """`loss_dependence`: (B, C, D) twice -> sum over the batch of trace(R K1 R K2), one trace at a time."""
    device = first.device
    centring = torch.eye(nodes).to(device) - (1 / nodes) * torch.ones(nodes, nodes).to(device)
    kernel_first = torch.bmm(first, first.transpose(1, 2))
    kernel_second = torch.bmm(second, second.transpose(1, 2))
    product = torch.bmm(torch.bmm(centring.expand_as(kernel_first), kernel_first),
                        torch.bmm(centring.expand_as(kernel_second), kernel_second))
    total = 0
    for index in range(first.shape[0]):
        total += torch.trace(product[index])
    return total


def reference_loss(outputs: tuple, answers: torch.Tensor, criterion: nn.Module, alpha: float, beta: float,
                   nodes: int) -> torch.Tensor:
    """train.py's loss: cross-entropy + alpha * mean common loss + beta * mean HSIC, the node lists moved back
    to the answers' device."""
    logits, _, _, common_appearance, common_motion, specific_appearance, specific_motion = outputs
    device = answers.device
    loss = criterion(logits, answers)
    dependence, common = 0, 0
    units = len(specific_appearance)
    for i in range(units):
        dependence += (reference_loss_dependence(specific_appearance[i].to(device), common_appearance[i].to(device),
                                                 nodes)
                       + reference_loss_dependence(specific_motion[i].to(device), common_motion[i].to(device), nodes))
        common += reference_common_loss(common_appearance[i].to(device), common_motion[i].to(device))
    return loss + alpha * common / units + beta * dependence / units


def reference_training_step(model: ReferenceDualVGR, optimizer: torch.optim.Optimizer, criterion: nn.Module,
                            batch: dict[str, torch.Tensor], alpha: float = 1.0, beta: float = 1e-8) -> float:
    """One step of train.py on a batch dict (appearance, motion, questions, question_lengths, answers): forward,
    loss, backward, gradient norm clipped at 12, Adam; returns the loss (train.py reads it every step)."""
    optimizer.zero_grad()
    outputs = model(batch["appearance"], batch["motion"], batch["questions"], batch["question_lengths"])
    loss = reference_loss(outputs, batch["answers"], criterion, alpha, beta, batch["appearance"].shape[1])
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=GRADIENT_CLIP_NORM)
    optimizer.step()
    return loss.item()
