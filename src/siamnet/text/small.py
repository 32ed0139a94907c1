"""``questions-small``'s encoder, trained from scratch: word embeddings → 1-layer BiLSTM →
max-pooling over time → linear → L2 normalise (the Siamese LSTM idea of Mueller &
Thyagarajan 2016, with InferSent-style max pooling and cosine in place of their Manhattan
distance on last states)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BiLSTMEncoder(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 128, hidden: int = 256, out: int = 256,
                 dropout: float = 0.1):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, out)
        self.dropout = nn.Dropout(dropout)
        self.embedding_dim = out

    def forward(self, batch: dict) -> torch.Tensor:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        lengths = mask.sum(1).clamp_min(1)
        x = self.dropout(self.embed(ids))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=ids.shape[1])
        h = h.masked_fill(mask[:, : h.shape[1], None] == 0, float("-inf")).max(1).values
        return F.normalize(self.out(self.dropout(h)), dim=-1)
