"""The model card: one JSON format for every model, checked against one schema when read.

See ``docs/models-and-kinds.md`` for the fields.  Cards of the first formats
(``siamnet-model/1`` from ``siamnet train``, ``siamnet-face-card/1`` from the face package)
are read too and converted on the fly.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError

FORMAT = "siamnet-model/2"
OLD_MODEL_FORMAT = "siamnet-model/1"
OLD_FACE_FORMAT = "siamnet-face-card/1"
DISTANCE_NAMES = ("squared_euclidean", "euclidean", "cosine", "cross_correlation")
# "response": a tracker's peak of φ(z) ⋆ φ(x), its τ the confidence below which the target is lost
SCORES = ("distance", "pair_head", "response")
MAX_EMBEDDING_DIM = 65_536
COMBINATION_RULES = ("nearest", "mean", "centroid")


@dataclass
class ModelCard:
    name: str
    kind: str  # "glyph", "face", "signature", "text", "track" (siamnet.kinds)
    input: dict  # the kind's settings: Kind(**input)
    encoder: str
    encoder_args: dict = field(default_factory=dict)
    embedding_dim: int = 128
    distance: str = "squared_euclidean"
    score: str = "distance"  # "distance": smaller d = more alike; "pair_head": P(same) from the head; "response": tracker
    threshold: float | None = None  # verify τ: same when d < τ (P(same) > τ for score="pair_head")
    threshold_source: str = ""
    identify_threshold: float | None = None  # 1:N τ (stricter), in the same units
    identify_threshold_source: str = ""
    probability: dict | None = None  # {"kind": "logistic", "a": .., "b": ..}: P(same) = σ(a + b·d)
    objective: str = ""
    # how several enrolled references are combined into one distance: {"rule": "nearest" | "mean"
    # (of the distances) | "centroid" (distance to the mean encoding), "source": why}; None: nearest
    combination: dict | None = None
    # 1:N ranking: {"rule": "lexical", "weight": w, "candidates": k, "source": why} ranks the k
    # nearest subjects by (1 - d) + w x the kind's lexical score of the query against each one's
    # examples (text: BM25 over the gallery's texts, scaled so the best candidate scores 1); the
    # known/unknown decision stays on d and τ. None: by distance alone
    rerank: dict | None = None
    weights: str = ""  # "": NAME.safetensors beside the card; else a bundled name, a path or a source
    data: Any = field(default_factory=dict)
    terms: str = ""
    command: str = ""
    commit: str = ""
    seed: int | None = None
    metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    created: str = ""
    format: str = FORMAT
    #: fields a card carries beyond these (a kind's or an application's own), kept as they are
    extra: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        extra = d.pop("extra")
        return {**d, **{k: v for k, v in extra.items() if k not in d}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, raw: Any, source: str | Path) -> "ModelCard":
        """Check ``raw`` against the schema (any old format converted first); errors name the
        file and the field."""
        if not isinstance(raw, dict):
            raise ModelError(f"{source}: not a siamnet model card (a JSON {type(raw).__name__}, "
                             f"expected an object)")
        fmt = raw.get("format")
        if fmt == OLD_MODEL_FORMAT:
            raw = _from_model_v1(raw, source)
        elif fmt == OLD_FACE_FORMAT:
            raw = _from_face_v1(raw)
        elif fmt != FORMAT:
            raise ModelError(f"{source}: not a siamnet model card (format is {fmt!r}, expected {FORMAT!r})")
        known = set(cls.__dataclass_fields__) - {"extra"}
        missing = [k for k in ("name", "kind", "input", "encoder") if k not in raw]
        if missing:
            raise ModelError(f"{source}: incomplete model card (no {', '.join(missing)})")
        card = cls(**{k: v for k, v in raw.items() if k in known},
                   extra={k: v for k, v in raw.items() if k not in known})
        card.validate(source)
        return card

    def validate(self, where: str | Path) -> None:
        def bad(fieldname: str, want: str) -> ModelError:
            return ModelError(f"{where}: field {fieldname!r} must be {want}, got {getattr(self, fieldname)!r}")

        for name in ("name", "kind", "encoder"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v.strip() or len(v) > 200:
                raise bad(name, "a non-empty text of at most 200 characters")
        for name in ("threshold_source", "identify_threshold_source", "objective", "weights", "terms",
                     "command", "commit", "created"):
            if not isinstance(getattr(self, name), str):
                raise bad(name, "text")
        for name in ("input", "encoder_args", "metrics", "training"):
            if not isinstance(getattr(self, name), dict):
                raise bad(name, "a JSON object")
        if isinstance(self.embedding_dim, bool) or not isinstance(self.embedding_dim, int) \
                or not 1 <= self.embedding_dim <= MAX_EMBEDDING_DIM:
            raise bad("embedding_dim", f"a whole number from 1 to {MAX_EMBEDDING_DIM}")
        if self.distance not in DISTANCE_NAMES:
            raise bad("distance", f"one of {', '.join(DISTANCE_NAMES)}")
        if self.score not in SCORES:
            raise bad("score", f"one of {', '.join(SCORES)}")
        for name in ("threshold", "identify_threshold"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad(name, "a finite number or null")
            if self.score == "pair_head" and not 0.0 < v < 1.0:
                raise bad(name, "a probability between 0 and 1 (the model scores pairs by P(same))")
            if self.score == "distance" and v < 0:
                raise bad(name, "a distance of at least 0")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise bad("seed", "a whole number or null")
        c = self.combination
        if c is not None and not (isinstance(c, dict) and c.get("rule") in COMBINATION_RULES):
            raise bad("combination", f"null or {{\"rule\": one of {', '.join(COMBINATION_RULES)}}}")
        r = self.rerank
        if r is not None:
            w, k = (r.get("weight"), r.get("candidates")) if isinstance(r, dict) else (None, None)
            if not (isinstance(r, dict) and r.get("rule") == "lexical"
                    and isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w >= 0
                    and isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= 1000):
                raise bad("rerank", "null or {\"rule\": \"lexical\", \"weight\": a number >= 0, "
                                    "\"candidates\": 1-1000}")
        p = self.probability
        if p is not None:
            ok = isinstance(p, dict) and p.get("kind") == "logistic" and all(
                isinstance(p.get(k), (int, float)) and not isinstance(p.get(k), bool)
                and math.isfinite(p[k]) for k in ("a", "b"))
            if not ok:
                raise bad("probability", "null or {\"kind\": \"logistic\", \"a\": number, \"b\": number}")


def _from_model_v1(raw: dict, source) -> dict:
    """A ``siamnet train`` card of the first format: a glyph model, squared Euclidean distance."""
    d = dict(raw)
    pre = d.pop("preprocess", None)
    if not isinstance(pre, dict):
        raise ModelError(f"{source}: field 'preprocess' must be a JSON object, got {pre!r}")
    d["kind"] = "glyph"
    d["input"] = pre
    args = d.get("encoder_args")
    if isinstance(args, dict):
        d.setdefault("embedding_dim", args.get("embedding_dim", 128))
    d["distance"] = "squared_euclidean"
    d["format"] = FORMAT
    return d


def _from_face_v1(raw: dict) -> dict:
    """A face card of the first format: a face model named by its encoder and weights."""
    d = dict(raw)
    d["kind"] = "face"
    d["format"] = FORMAT
    return d


def combination_threshold(combination: dict | None, rule: str, k: int, default: float | None) -> float | None:
    """τ for ``rule`` over ``k`` enrolled references: the card's
    ``combination.thresholds[rule][K]`` for the largest calibrated K not above ``k`` (several
    references combined have their own operating point), else ``default`` (the 1:1 τ)."""
    table = ((combination or {}).get("thresholds") or {}).get(rule) or {}
    ks = sorted(int(x) for x in table if int(x) <= k)
    return float(table[str(ks[-1])]) if ks else default
