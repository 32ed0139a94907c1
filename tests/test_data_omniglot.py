"""Tests on the real Omniglot background set (../shared/datasets; SIAMNET_DATA)."""

import json

import numpy as np
import pytest

from siamnet.cli import main
from siamnet.data import ImageFolder, Preprocess, load_image
from siamnet.models import list_models, load_model

pytestmark = pytest.mark.data


def test_background_set_layout(omniglot_root):
    ds = ImageFolder.scan(omniglot_root)
    assert len(ds) == 19280 and ds.num_classes == 964 and len(set(ds.groups)) == 30
    assert (ds.counts() == 20).all()
    a = load_image(ds.paths[0], Preprocess(28, "L", invert=True))
    assert a.shape == (1, 28, 28) and a.dtype == np.uint8
    assert a.mean() < 80  # inverted: strokes bright on a dark background


@pytest.mark.parametrize("name,floor", [("omniglot", 0.85), ("omniglot-pair", 0.65)])
def test_bundled_omniglot_models_on_their_validation_alphabets(omniglot_root, capsys, name, floor):
    """Each bundled model, on alphabets it never saw in training: 20-way within-alphabet one-shot."""
    assert name in [c.name for c in list_models()]
    model = load_model(name)
    held_out = model.card.data["validation_groups"]
    assert len(held_out) == 5
    assert main(["oneshot", "--model", name, "--data", str(omniglot_root), "--groups", ",".join(held_out),
                 "--ways", "20", "--shots", "1", "--episodes", "100", "--within-alphabet", "--seed", "7",
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["trials"] == 2000
    # the card's own (larger) validation says the same within noise
    card_acc = model.card.metrics["validation_oneshot"]["accuracy"]
    assert res["accuracy"] > floor and abs(res["accuracy"] - card_acc) < 0.05
