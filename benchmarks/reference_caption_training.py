"""sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning's models and training step, transcribed as modules for a speed
baseline.

`ReferenceEncoder` and `ReferenceDecoderWithAttention` follow the tutorial's models.py operation for
operation: the ResNet-101 body and adaptive pooling of `Encoder` (frozen unless fine-tuned, left in
train mode as train.py leaves it), and `DecoderWithAttention.forward`'s captions sorted by decreasing
length, a batch that shrinks as captions end, the attention's encoder_att(V) recomputed at every step,
and zero-filled `predictions`/`alphas`. `tutorial_training_step` is train.py's `train` body: packed
cross-entropy plus alpha_c x the doubly stochastic term, backward, gradients clipped at 5 by value,
Adam steps. Module names are the tutorial's (and vlkit's show_attend_tell's), so one state dict drives
both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from torchvision import models


class ReferenceEncoder(nn.Module):
    """Normalised float images (B, 3, S, S) -> (B, G, G, 2048)."""

    def __init__(self, grid_size: int = 14):
        super().__init__()
        self.resnet = nn.Sequential(*list(models.resnet101(weights=None).children())[:-2])
        self.adaptive_pool = nn.AdaptiveAvgPool2d((grid_size, grid_size))
        for parameter in self.resnet.parameters():
            parameter.requires_grad = False

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.adaptive_pool(self.resnet(images)).permute(0, 2, 3, 1)


class ReferenceAttention(nn.Module):
    def __init__(self, encoder_dim: int, decoder_dim: int, attention_dim: int):
        super().__init__()
        self.encoder_att = nn.Linear(encoder_dim, attention_dim)
        self.decoder_att = nn.Linear(decoder_dim, attention_dim)
        self.full_att = nn.Linear(attention_dim, 1)

    def forward(self, encoder_out: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.full_att(F.relu(self.encoder_att(encoder_out) + self.decoder_att(hidden).unsqueeze(1)))
        alpha = F.softmax(scores.squeeze(2), dim=1)  # (B, P)
        return (encoder_out * alpha.unsqueeze(2)).sum(dim=1), alpha


class ReferenceDecoderWithAttention(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int = 512, attention_dim: int = 512, decoder_dim: int = 512,
                 encoder_dim: int = 2048, dropout: float = 0.5):
        super().__init__()
        self.vocab_size = vocab_size
        self.attention = ReferenceAttention(encoder_dim, decoder_dim, attention_dim)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.decode_step = nn.LSTMCell(embed_dim + encoder_dim, decoder_dim)
        self.init_h = nn.Linear(encoder_dim, decoder_dim)
        self.init_c = nn.Linear(encoder_dim, decoder_dim)
        self.f_beta = nn.Linear(decoder_dim, encoder_dim)
        self.fc = nn.Linear(decoder_dim, vocab_size)

    def forward(self, encoder_out: torch.Tensor, captions: torch.Tensor, lengths: torch.Tensor):
        """encoder_out (B, G, G, D), captions (B, T), lengths (B, 1) -> predictions (B, L, V), sorted captions,
        decode lengths, alphas (B, L, P), sort indices (the tutorial's outputs)."""
        batch, dim = encoder_out.size(0), encoder_out.size(-1)
        encoder_out = encoder_out.view(batch, -1, dim)
        lengths, sort_ind = lengths.squeeze(1).sort(dim=0, descending=True)
        encoder_out, captions = encoder_out[sort_ind], captions[sort_ind]
        embeddings = self.embedding(captions)
        mean = encoder_out.mean(dim=1)
        h, c = self.init_h(mean), self.init_c(mean)
        decode_lengths = (lengths - 1).tolist()
        predictions = torch.zeros(batch, max(decode_lengths), self.vocab_size, device=encoder_out.device)
        alphas = torch.zeros(batch, max(decode_lengths), encoder_out.size(1), device=encoder_out.device)
        for t in range(max(decode_lengths)):
            n = sum(length > t for length in decode_lengths)
            awe, alpha = self.attention(encoder_out[:n], h[:n])
            awe = torch.sigmoid(self.f_beta(h[:n])) * awe
            h, c = self.decode_step(torch.cat([embeddings[:n, t, :], awe], dim=1), (h[:n], c[:n]))
            predictions[:n, t, :] = self.fc(self.dropout(h))
            alphas[:n, t, :] = alpha
        return predictions, captions, decode_lengths, alphas, sort_ind


def tutorial_training_step(encoder: ReferenceEncoder, decoder: ReferenceDecoderWithAttention,
                           optimizer: torch.optim.Optimizer, images: torch.Tensor, captions: torch.Tensor,
                           lengths: torch.Tensor, alpha_c: float = 1.0, grad_clip: float = 5.0) -> float:
    """One step of train.py's loop on normalised images (B, 3, S, S), captions (B, T), lengths (B, 1); the loss."""
    scores, captions_sorted, decode_lengths, alphas, _ = decoder(encoder(images), captions, lengths)
    targets = captions_sorted[:, 1:]
    scores = pack_padded_sequence(scores, decode_lengths, batch_first=True).data
    targets = pack_padded_sequence(targets, decode_lengths, batch_first=True).data
    loss = F.cross_entropy(scores, targets) + alpha_c * ((1.0 - alphas.sum(dim=1)) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            if parameter.grad is not None:
                parameter.grad.data.clamp_(-grad_clip, grad_clip)
    optimizer.step()
    return loss.item()
