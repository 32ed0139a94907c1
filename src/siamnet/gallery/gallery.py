"""A gallery of enrolled subjects — people, writers, FAQ entries, characters — for any model:
enroll from 1-5 examples, add examples, verify against one subject, identify (top-k or
unknown), list, rename, delete — on a Store.

>>> g = Gallery("people.db", model="dlib-resnet")       # SQLite; or ":memory:", "postgresql://…"
>>> g.enroll("Ada Lovelace", ["ada1.jpg", "ada2.jpg"], employee_id="E042")
>>> g.identify("door-camera.jpg")                        # one Identification per face
[Identification(name='Ada Lovelace', distance=0.38, known=True, ...)]
>>> bank = Gallery("bank.db", model="questions")
>>> bank.enroll("reset-password", ["How do I reset my password?", "I forgot my password"])
>>> bank.search("can't log in, lost password", top=5)

The gallery knows only the model interface (:class:`siamnet.models.Model`): the model's kind
reads and checks the examples, its encoder encodes them once, and they are stored under the
model's name — enrolling the 1,001st subject is one insert, nothing is retrained.
Identification searches a :class:`~siamnet.gallery.index.NearestIndex` (exact numpy below a
size, FAISS above) for candidates and scores them with the model's own distance: a subject's
distance is the smallest over all of their examples; the nearest subject is the answer, or
``unknown`` when that distance is not below τ (the card's identify τ unless one is given).
The index is rebuilt when the store's ``generation()`` moves — after this gallery's changes,
another process's, or a restart.

Enrolment is all-or-nothing: every example is read and encoded before anything is written;
an unreadable one (or a photo without a face) raises :class:`~siamnet.errors.DataError`
naming it, and the gallery is left unchanged.  For kinds that identify a person (faces,
signatures), examples that already match an enrolled subject are refused under a new name
(:class:`DuplicateError`, saying who and how closely) unless ``allow_duplicate=True``.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from siamnet.errors import DataError, ModelError
from siamnet.gallery.index import make_index
from siamnet.gallery.store import (
    MAX_IMAGES_PER_PERSON,
    NotFound,
    Person,
    Store,
    clean_name,
    clean_text,
    open_store,
)
from siamnet.models.card import combination_threshold

#: candidate encodings taken from the index per wanted answer and re-scored with the model
CANDIDATES = 8
#: the model a gallery uses when neither it nor its store names one (the attendance service's)
DEFAULT_MODEL = "dlib-resnet"
#: kinds whose subjects are people: the same person under a second name is refused
UNIQUE_SUBJECT_KINDS = ("face", "signature")


class DuplicateError(DataError):
    """Examples that match an already enrolled subject, refused under a new name."""


@dataclass(frozen=True)
class Match:
    """One candidate subject: its smallest distance to the query, P(same) where the card is
    calibrated, and the example (a source label, or the text itself) that came closest."""

    name: str
    distance: float
    probability: float | None
    example: str
    person_id: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Identification:
    """The answer for one query (one face of a photo): ``name`` is the nearest subject when
    ``known``, else "unknown"; ``nearest``/``distance`` always describe the closest enrolled
    subject (None if the gallery is empty); ``matches`` the top-k, nearest first."""

    name: str
    known: bool
    employee_id: str | None
    distance: float | None
    nearest: str | None
    threshold: float
    box: Any = None
    person_id: int | None = None
    probability: float | None = None
    matches: tuple[Match, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        b = self.box
        d["box"] = None if b is None else [b.left, b.top, b.right, b.bottom]
        d["matches"] = [m.to_dict() for m in self.matches]
        return d


@dataclass(frozen=True)
class Verification:
    """An input checked against one enrolled subject (1:1): ``same`` when ``distance`` is
    below τ, where ``distance`` combines the subject's references by the card's rule
    (``combination.rule``: the nearest reference by default, or the mean of the distances, or
    the distance to the mean encoding); all three are given, and P(same) where the card is
    calibrated (for the decision's distance)."""

    name: str
    same: bool
    distance: float  # by the rule: the decision
    distance_to_nearest: float
    distance_to_mean: float  # to the mean of the references' encodings
    mean_distance: float  # the mean of the distances to each reference
    references: int
    probability: float | None
    threshold: float
    rule: str = "nearest"

    def to_dict(self) -> dict:
        return asdict(self)


def _example_bytes(example: Any) -> bytes | None:
    """The file's bytes when the example is a file (kept only if the store keeps photos)."""
    if isinstance(example, (str, Path)):
        try:
            return Path(example).read_bytes()
        except OSError:
            return None
    if isinstance(example, (bytes, bytearray)):
        return bytes(example)
    return None


#: the store setting that records which model (a bundled name or a card path) a gallery uses
MODEL_SETTING = "gallery.model"


def _model_for(store: Store, model) -> Any:
    """The model a gallery uses: the one given, else the one recorded in the store when its
    first subject was enrolled, else the one its subjects' encodings name, else
    :data:`DEFAULT_MODEL`."""
    from siamnet.models import shared_model

    if model is None:
        model = store.get_setting(MODEL_SETTING)
    if model is None:
        used = store.encoding_models()
        if len(used) == 1:
            try:
                return shared_model(next(iter(used)))
            except ModelError:  # not a model here: the default, which _check_model then refuses
                pass
        model = DEFAULT_MODEL
    return shared_model(model)


class Gallery:
    """Enrolled subjects and their encodings in a :class:`Store` (a path or URL opens one),
    for one model (a bundled name, a path, a loaded model; None: the store's own)."""

    def __init__(self, store: Store | str | Path = ":memory:", model: Any = None,
                 threshold: float | None = None, keep_photos: bool = False, index_factory=make_index):
        if isinstance(store, Store):
            self.store, self._owns_store = store, False
        else:
            # a typo in a path is an error here, not a new folder (open_store makes folders)
            self.store = open_store(store, keep_photos=keep_photos, create_folder=False)
            self._owns_store = True
        try:
            self.model = _model_for(self.store, model)
        except BaseException:
            self.close()
            raise
        default = self.model.identify_threshold
        self.threshold = float(default if threshold is None else threshold) if (
            default is not None or threshold is not None) else float("inf")
        self.path = self.store.url
        self._index_factory = index_factory
        self._index_lock = threading.Lock()
        self._index: tuple | None = None  # (generation, index, people by id, vectors by id, sources by id)
        self._lexical: tuple | None = None  # (the index's sources, scorer, positions by id): the card's rerank

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self.store.schema_version

    @property
    def journal_mode(self) -> str | None:
        return getattr(self.store, "journal_mode", None)

    # -- enrolment ---------------------------------------------------------------------------

    @property
    def noun(self) -> str:
        """What the examples are: "images" or "texts"."""
        return "texts" if self.model.kind.takes_text else "images"

    @property
    def subjects_noun(self) -> str:
        return "people" if self.model.kind.name in UNIQUE_SUBJECT_KINDS else "subjects"

    def encode_examples(self, name: str, examples: list, consequence: str = "was not enrolled"
                        ) -> tuple[np.ndarray, list[str], list | None]:
        """(vectors, sources, photos) of every example, all read and encoded before anything is
        written.  A source is the text itself for text models, else the example's name."""
        kind = self.model.kind
        try:
            for x in examples:
                kind.check(x)
            items = kind.load_many(examples)
        except DataError as exc:
            raise type(exc)(f"{exc}; {name!r} {consequence}") from None
        vectors = self.model.encode_items(items)
        sources = [x if kind.takes_text else kind.describe(x, f"example {i + 1}") for i, x in enumerate(examples)]
        photos = None
        if self.store.keep_photos and not kind.takes_text:
            photos = [_example_bytes(x) for x in examples]
        return vectors, sources, photos

    def enroll(self, name: str, examples: Sequence[Any], employee_id: str | None = None,
               actor: str = "system", allow_duplicate: bool = False) -> Person:
        """Add a subject from 1-5 examples of the model's kind.  All or nothing."""
        return self.enroll_many([(name, examples)], employee_id, actor, allow_duplicate)[0]

    def enroll_many(self, subjects: Sequence[tuple[str, Sequence[Any]]], employee_id: str | None = None,
                    actor: str = "system", allow_duplicate: bool = False, progress=None) -> list[Person]:
        """Add subjects, each ``(name, 1-5 examples)`` (a bulk CSV), checked and encoded before
        the first is written: a taken or repeated name, a wrong count or a bad example refuses
        them all.  ``employee_id`` is for a single subject; ``progress`` wraps the encoding loop
        (e.g. a tqdm bar)."""
        from siamnet.gallery.store import name_key

        employee_id = clean_text(employee_id, "employee id")
        names, seen = [], set()
        for name, examples in subjects:
            name = clean_name(name)
            if name_key(name) in seen:
                raise DataError(f"{name!r} appears twice")
            seen.add(name_key(name))
            self._check_count(f"enroll {name!r}:", len(list(examples)), MAX_IMAGES_PER_PERSON)
            # cheap checks first, so a duplicate name does not cost the encoding of 5 examples
            self._check_new(name, employee_id)
            names.append(name)
        self._check_model(f"{names[0]!r} was not enrolled" if len(names) == 1 else "nothing was enrolled")
        pairs = list(zip(names, (list(x) for _, x in subjects)))
        encoded = [(name, *self.encode_examples(name, x)) for name, x in (progress or iter)(pairs)]
        return self.enroll_encodings_many(encoded, employee_id, actor, allow_duplicate)

    def enroll_encodings_many(self, subjects: Sequence[tuple], employee_id: str | None = None,
                              actor: str = "system", allow_duplicate: bool = True) -> list[Person]:
        """:meth:`enroll_encodings` for many ``(name, encodings, sources[, photos])``, with the
        model checks (each a query over every encoding) made once for the lot rather than once
        per subject, so that a bank of 100,000 questions enrolls in linear time."""
        subjects = [tuple(x) + (None,) * (4 - len(x)) for x in subjects]
        if not allow_duplicate and self.model.kind.name in UNIQUE_SUBJECT_KINDS:  # each against the last
            return [self.enroll_encodings(n, v, s, employee_id, actor, p, allow_duplicate) for n, v, s, p in subjects]
        checked = [(*self._checked_encodings(n, v, s, "; nothing was enrolled"), s, p) for n, v, s, p in subjects]
        if not checked:
            return []
        self._check_model(f"{checked[0][0]!r} was not enrolled" if len(checked) == 1 else "nothing was enrolled")
        self._remember_model()
        return [self.store.add_person(n, employee_id, self.model.name, v, s, p, actor=actor) for n, v, s, p in checked]

    def add_examples(self, name: str, examples: Sequence[Any], actor: str = "system") -> Person:
        """Add 1-5 more examples of an enrolled subject (at most 5 in all).  All or nothing."""
        name = clean_name(name)
        examples = list(examples)
        have = self.store.person(name, self.model.name).encodings
        self._check_count(f"add {self.noun} to {name!r}: has {have} of {MAX_IMAGES_PER_PERSON};",
                          len(examples), MAX_IMAGES_PER_PERSON - have)
        vectors, sources, photos = self.encode_examples(name, examples, "was not changed")
        return self.store.add_encodings(name, self.model.name, vectors, sources, photos, actor=actor)

    add_photos = add_examples

    def _check_count(self, what: str, n: int, most: int) -> None:
        if not 1 <= n <= most:
            raise DataError(f"{what} give 1 to {most} {self.noun}, got {n}")

    def enroll_encodings(self, name: str, encodings: np.ndarray, sources: Sequence[str],
                         employee_id: str | None = None, actor: str = "system",
                         photos: Sequence[bytes | None] | None = None,
                         allow_duplicate: bool = True) -> Person:
        """Add a subject from encodings already computed with this gallery's model (one
        transaction).  With ``allow_duplicate=False``, encodings that match an enrolled subject
        of a person-identifying kind raise :class:`DuplicateError` naming that subject."""
        name, vectors = self._checked_encodings(name, encodings, sources)
        self._check_model(f"{name!r} was not enrolled")
        if not allow_duplicate and self.model.kind.name in UNIQUE_SUBJECT_KINDS:
            self._check_not_enrolled(name, vectors)
        self._remember_model()
        return self.store.add_person(name, employee_id, self.model.name, vectors, sources,
                                     photos, actor=actor)

    def _checked_encodings(self, name: str, encodings: Any, sources: Sequence[str],
                           consequence: str = "") -> tuple[str, np.ndarray]:
        """(the clean name, (n, d) float32 vectors): n = one per source, d = the model's."""
        name = clean_name(name)
        vectors = np.asarray(encodings, dtype=np.float32)
        dim = self.model.card.embedding_dim
        if vectors.ndim != 2 or vectors.shape[1] != dim or len(vectors) != len(sources):
            raise DataError(f"enroll {name!r}: expected {len(sources)} encodings of {dim} "
                            f"values, got shape {vectors.shape}{consequence}")
        return name, vectors

    def _remember_model(self) -> None:
        """A gallery without encodings yet records its model, so that it finds it again."""
        if self.store.get_setting(MODEL_SETTING) != self.model.source and not self.store.encoding_models():
            self.store.set_setting(MODEL_SETTING, self.model.source)

    def _check_new(self, name: str, employee_id: str | None) -> None:
        try:
            self.store.person(name)
        except NotFound:
            pass
        else:
            raise DataError(f"{name!r} is already enrolled (delete or rename that subject first)")
        if employee_id is not None:
            for p in self.store.people():
                if p.employee_id == employee_id:
                    raise DataError(f"employee id {employee_id!r} already belongs to {p.name!r}")

    def _check_not_enrolled(self, name: str, vectors: np.ndarray) -> None:
        """The same person under a second name: refused, saying who and how closely."""
        for i, v in enumerate(vectors):
            hit = self.identify_encoding(v)
            if hit.known:
                raise DuplicateError(
                    f"example {i + 1} of {name!r} matches {hit.nearest!r}, already enrolled (distance "
                    f"{hit.distance:.3f} < τ {hit.threshold:.3f}); {name!r} was not enrolled (if they are "
                    f"different subjects, enroll with allow_duplicate / --allow-duplicate)")

    def _check_model(self, consequence: str) -> None:
        """Encodings of different models cannot be compared: a gallery whose subjects all have
        another model's encodings is refused, rather than answer "unknown" for everyone."""
        models = self.store.encoding_models()
        if models and self.model.name not in models:
            used = ", ".join(f"{m} ({n} {self.subjects_noun})" for m, n in models.items())
            raise DataError(f"this gallery's {self.subjects_noun} were enrolled with {used}, not with "
                            f"{self.model.name}, and encodings of different models cannot be "
                            f"compared; {consequence} (use the model they were enrolled with)")

    # -- subjects ----------------------------------------------------------------------------

    def get(self, name: str) -> Person:
        return self.store.person(name, self.model.name)

    person = get

    def people(self) -> list[Person]:
        """Every subject enrolled, by name (``encodings`` counts this gallery's model)."""
        return self.store.people(self.model.name)

    def __len__(self) -> int:
        return self.store.count_people()

    def rename(self, old: str, new: str, actor: str = "system") -> Person:
        self.store.rename(old, new, actor=actor)
        return self.get(new)

    def delete(self, name: str, actor: str = "system") -> None:
        self.store.delete(name, actor=actor)

    # -- search ------------------------------------------------------------------------------

    def _search_index(self):
        """(index, people by id, each subject's vectors, each subject's sources), brought up to
        date whenever the store's generation moved.  While one thread refreshes, others go on
        answering from the previous index (a moment behind) rather than queue behind it."""
        generation = self.store.generation()
        current = self._index
        if current is not None and current[0] == generation:
            return current[1:]
        if not self._index_lock.acquire(blocking=current is None):
            return current[1:]
        try:
            current = self._index
            if current is not None and current[0] == generation:
                return current[1:]
            # the generation is read again before the data: a change in between only makes
            # the next call refresh once more
            generation = self.store.generation()
            ids, vectors = self.store.encodings(self.model.name)
            sources = np.asarray(self.store.encoding_sources(self.model.name), dtype=object)
            if len(sources) != len(ids):  # changed between the two reads: read again next call
                generation = -1
                sources = np.asarray([""] * len(ids), dtype=object)
            people = {p.id: p for p in self.store.people(self.model.name)}
            keep = np.isin(ids, np.fromiter(people, np.int64, len(people)))
            ids, vectors, sources = ids[keep], self._prepare(vectors[keep]), sources[keep]
            fresh = self._index_factory(len(ids))
            old = None if current is None else current[1]
            if old is not None and type(old) is type(fresh):
                index = old.refresh(vectors, ids)  # FAISS keeps its trained cells
            else:
                index = fresh.build(vectors, ids)
            by_person: dict[int, np.ndarray] = {}
            sources_by: dict[int, np.ndarray] = {}
            order = np.argsort(ids, kind="stable")
            if len(ids):
                bounds = np.flatnonzero(np.diff(ids[order])) + 1
                for chunk in np.split(order, bounds):
                    by_person[int(ids[chunk[0]])] = vectors[chunk]
                    sources_by[int(ids[chunk[0]])] = sources[chunk]
            self._index = (generation, index, people, by_person, sources_by)
            return index, people, by_person, sources_by
        finally:
            self._index_lock.release()

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine models are searched as unit vectors (squared L2 = 2 − 2 cos: same order)."""
        vectors = np.asarray(vectors, np.float32)
        if self.model.card.distance == "cosine" and len(vectors):
            norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
        return vectors

    def _query(self, encoding: np.ndarray) -> np.ndarray:
        query = np.asarray(encoding, np.float32).reshape(-1)
        if query.shape != (self.model.card.embedding_dim,) or not np.isfinite(query).all():
            raise DataError(f"identify: expected {self.model.card.embedding_dim} finite values, "
                            f"got shape {query.shape}")
        return query

    def _lexical_scorer(self, sources_by: dict[int, np.ndarray]):
        """(scorer, positions by subject) for the card's ``rerank`` rule, or None: built over
        every stored example once per refresh of the index."""
        rule = self.model.card.rerank
        if not rule or not self.model.kind.takes_text:
            return None
        current = self._lexical  # built for this very index (another thread may refresh it meanwhile)
        if current is not None and current[0] is sources_by:
            return current[1:]
        texts, positions = [], {}
        for pid, src in sources_by.items():
            positions[pid] = np.arange(len(texts), len(texts) + len(src))
            texts.extend(str(t) for t in src)
        scorer = self.model.kind.lexical_scorer(texts)
        if scorer is None:
            return None
        self._lexical = (sources_by, scorer, positions)
        return scorer, positions

    def identify_encoding(self, encoding: np.ndarray, box: Any = None, top: int = 1,
                          text: str | None = None) -> Identification:
        """The nearest enrolled subject to an encoding (and the ``top`` nearest, in
        ``matches``), or "unknown" when the nearest is not within τ.  Given the query ``text``
        and a card with a ``rerank`` rule, the rule's nearest candidates are ranked by similarity
        plus the rule's weight × the kind's lexical score; "unknown" is still decided on d."""
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise DataError(f"top must be a whole number of at least 1, got {top!r}")
        index, people, by_person, sources_by = self._search_index()
        query = self._query(encoding)
        if len(index) == 0:
            self._check_model("nobody can be identified")
            return Identification("unknown", False, None, None, None, self.threshold, box)
        rule = self.model.card.rerank if text is not None else None
        lexical = self._lexical_scorer(sources_by) if rule else None
        # each subject has up to 5 encodings: ask for enough candidates to find `top` subjects
        wanted = CANDIDATES + MAX_IMAGES_PER_PERSON * (top - 1)
        if lexical is not None:  # the rule's candidates, or more when more answers are asked for
            reranked = max(int(rule["candidates"]), top)
            wanted = max(wanted, MAX_IMAGES_PER_PERSON * reranked)
        _, cand = index.search(self._prepare(query[None, :]), wanted)
        # the model's own distance (float64) over all encodings of every candidate subject, in
        # one call; each subject's is its nearest encoding's
        pids = list(dict.fromkeys(int(c) for c in cand[0] if c >= 0))
        sizes = [len(by_person[pid]) for pid in pids]
        d_all = np.asarray(self.model.distance(np.concatenate([by_person[pid] for pid in pids]), query[None, :]),
                           np.float64).reshape(-1)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        scored = []
        for pid, start, size in zip(pids, starts, sizes):
            j = int(np.argmin(d_all[start:start + size]))
            scored.append((float(d_all[start + j]), pid, str(sources_by[pid][j])))
        scored.sort(key=lambda t: t[0])
        if lexical is not None:
            scored = self._rerank(scored[:reranked], text, lexical, float(rule["weight"])) + scored[reranked:]
        matches = tuple(Match(people[pid].name, d, self.model.probability(d), src, pid)
                        for d, pid, src in scored[:top])
        best = matches[0]
        person = people[best.person_id]
        known = best.distance < self.threshold
        return Identification(person.name if known else "unknown", known,
                              person.employee_id if known else None, best.distance, person.name,
                              self.threshold, box, person.id if known else None, best.probability, matches)

    @staticmethod
    def _rerank(scored: list, text: str, lexical, weight: float) -> list:
        """Candidates (d, subject, example) ordered by (1 − d) + weight × lexical score, the
        score of a subject being its best example's."""
        scorer, positions = lexical
        flat = np.concatenate([positions[pid] for _, pid, _ in scored])
        words = scorer(text, flat)
        best, at = [], 0
        for _, pid, _ in scored:
            n = len(positions[pid])
            best.append(float(words[at:at + n].max()))
            at += n
        order = sorted(range(len(scored)), key=lambda i: -(1.0 - scored[i][0] + weight * best[i]))
        return [scored[i] for i in order]

    def identify(self, example: Any, top: int = 1) -> list[Identification]:
        """One answer per instance in the input (every face of a photo, largest first; one for
        any other kind); ``[]`` when a photo holds no face."""
        kind = self.model.kind
        kind.check(example)
        found = kind.instances(example)
        if not found:
            return []
        vectors = self.model.encode_items([item for _, item in found])
        text = kind.normalise(example) if kind.takes_text else None
        return [self.identify_encoding(v, (meta or {}).get("box"), top=top, text=text)
                for (meta, _), v in zip(found, vectors)]

    def search(self, example: Any, top: int = 5) -> Identification:
        """The ``top`` nearest subjects to one input (its largest face, for photos)."""
        return self.search_many([example], top=top)[0]

    def search_many(self, examples: Sequence[Any], top: int = 5, batch_size: int = 64) -> list[Identification]:
        """:meth:`search` for many inputs, encoded in batches."""
        examples = list(examples)
        vectors = self.model.encode(examples, batch_size=batch_size)
        kind = self.model.kind
        texts = [kind.normalise(x) for x in examples] if kind.takes_text else [None] * len(examples)
        return [self.identify_encoding(v, top=top, text=t) for v, t in zip(vectors, texts)]

    def verify(self, name: str, example: Any, threshold: float | None = None) -> Verification:
        """Is ``example`` the enrolled subject ``name``?  Decided on the distance to the nearest
        of their references, below the card's verify τ (or ``threshold``)."""
        name = clean_name(name)
        person = self.store.person(name, self.model.name)
        if person.encodings == 0:
            raise DataError(f"{name!r} has no examples enrolled with {self.model.name}")
        _, _, by_person, _ = self._search_index()
        refs = by_person.get(person.id)
        if refs is None:  # enrolled a moment ago by another process: read again
            self._index = None
            refs = self._search_index()[2][person.id]
        query = self.model.encode([example])[0]
        d = np.asarray(self.model.distance(refs, query[None, :]), np.float64).reshape(-1)
        combination = self.model.card.combination or {}
        rule = combination.get("rule", "nearest")
        tau = (combination_threshold(combination, rule, len(refs), self.model.verify_threshold) if threshold is None
               else float(threshold))
        if tau is None:
            raise DataError(f"model {self.model.name} has no verify threshold in its card; give one")
        by_rule = {"nearest": float(d.min()), "mean": float(d.mean()),
                   "centroid": float(self.model.distance(refs.mean(axis=0), query))}
        dist = by_rule[rule]
        return Verification(person.name, dist < tau, dist, by_rule["nearest"], by_rule["centroid"], by_rule["mean"],
                            len(refs), self.model.probability(dist), tau, rule)
