"""The bundled ``signature`` model: its card is complete and consistent, and on a validation
writer of BHSig260 (never trained on) genuine pairs are closer than skilled-forgery pairs."""

from __future__ import annotations

import numpy as np
import pytest

from siamnet.evaluate.verification import auc, roc_curve
from siamnet.signatures.collections import read_bhsig, signet_pairs
from siamnet.signatures.model import load_signature_model


@pytest.fixture(scope="module")
def model():
    return load_signature_model("signature")


def test_card_is_complete(model):
    c = model.card
    assert c["format"] == "siamnet-model/2" and c["kind"] == "signature" and c["encoder"] == "lite0-sig"
    assert c["embedding_dim"] == 128 and c["distance"] == "squared_euclidean" and c["score"] == "distance"
    assert c["threshold"] > 0 and c["threshold_source"] and c["probability"]["b"] < 0
    assert c["commit"] and c["commit_clean"] and c["seed"] == 0 and "BHSig260" in c["terms"]
    assert c["combination"]["rule"] == "centroid"
    assert 0 < c["metrics"]["validation_bhsig"]["eer"] < 0.5 and c["training"]["images_per_s"] > 0
    # P(genuine) is ½ near τ and falls with the distance
    p = model.probability(np.array([0.0, c["threshold"], 10 * c["threshold"]]))
    assert p[0] > 0.5 > p[2] and abs(p[1] - 0.5) < 0.25


@pytest.mark.data
def test_genuine_pairs_are_closer_than_forgeries_on_a_validation_writer(model, data_root):
    coll = read_bhsig(data_root / "bhsig260_bengali", writers={45})
    e = model.encode([coll.root / p for p in coll.paths])
    pairs = np.array(signet_pairs(coll))
    d = model.distance(e[pairs[:, 0]], e[pairs[:, 1]])
    fpr, tpr, _ = roc_curve(-d, pairs[:, 2] == 1)
    assert auc(fpr, tpr) > 0.75
