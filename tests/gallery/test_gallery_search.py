"""The Gallery's index follows the store: enroll, rename, delete, another instance, a restart.

Encodings are synthetic (enroll_encodings / identify_encoding), so no face model weights are
needed; the photo path (enroll / add_photos from images) is tested in tests/faces.
"""

from __future__ import annotations

import numpy as np
import pytest

from _gallery_support import vectors
from siamnet.errors import DataError
from siamnet.gallery import Gallery, NotFound, open_store
from siamnet.gallery.index import ExactIndex, make_index

MODEL = "dlib-resnet"


def near(v: np.ndarray, seed: int, scale: float = 0.02) -> np.ndarray:
    return v + np.random.default_rng(seed).normal(scale=scale, size=v.shape).astype(np.float32)


def test_faces_gallery_is_the_same_class():
    import siamnet.faces
    from siamnet.faces.gallery import Gallery as OldName

    assert siamnet.faces.Gallery is Gallery is OldName


@pytest.mark.parametrize("factory", ["auto", "faiss"])
def test_index_follows_enroll_rename_delete(store_url, factory):
    if factory == "faiss":
        pytest.importorskip("faiss")
        index_factory = lambda n: make_index(n, exact_below=0)  # noqa: E731
    else:
        index_factory = make_index
    g = Gallery(open_store(store_url), index_factory=index_factory)
    ada, bob = vectors(2, 1), vectors(2, 2)
    assert g.identify_encoding(ada[0]).name == "unknown"  # empty
    g.enroll_encodings("Ada", ada, ["a1", "a2"], employee_id="E1")
    hit = g.identify_encoding(near(ada[0], 1))
    assert hit.known and hit.name == "Ada" and hit.employee_id == "E1" and hit.distance < 0.6
    assert hit.person_id == g.get("Ada").id
    g.enroll_encodings("Bob", bob, ["b1", "b2"])
    assert g.identify_encoding(near(bob[1], 2)).name == "Bob"
    g.rename("Bob", "Robert")
    assert g.identify_encoding(near(bob[1], 3)).name == "Robert"
    g.delete("Ada")
    miss = g.identify_encoding(near(ada[0], 4))
    assert not miss.known and miss.name == "unknown" and miss.nearest == "Robert"
    assert miss.person_id is None and miss.employee_id is None
    with pytest.raises(DataError, match="expected 128 finite values"):
        g.identify_encoding(np.zeros(5))
    with pytest.raises(NotFound):
        g.delete("Ada")
    g.store.close()


def test_another_instance_and_a_restart_see_the_changes(shared_url):
    """Two galleries on one database (two service instances); then both closed and reopened."""
    a, b = Gallery(open_store(shared_url)), Gallery(open_store(shared_url))
    ada, bob = vectors(3, 1), vectors(1, 2)
    assert b.identify_encoding(ada[0]).name == "unknown"  # b has built its (empty) index
    a.enroll_encodings("Ada", ada, ["1", "2", "3"])
    assert b.identify_encoding(near(ada[2], 1)).name == "Ada"
    b.enroll_encodings("Bob", bob, ["1"])
    b.delete("Ada")
    assert a.identify_encoding(near(bob[0], 2)).name == "Bob"
    assert a.identify_encoding(near(ada[0], 3)).name == "unknown"
    a.store.close()
    b.store.close()
    with Gallery(shared_url) as again:
        assert again.identify_encoding(near(bob[0], 4)).name == "Bob"
        assert [p.name for p in again.people()] == ["Bob"] and len(again) == 1


def test_gallery_ignores_other_models_and_cosine_cards(tmp_path):
    """Encodings of another model are not searched; distances are the model's own."""
    s = open_store(tmp_path / "g.db")
    s.add_person("Other model", None, "some-other-model", vectors(1, 1), ["x"])
    g = Gallery(s)
    # only another model's people: every answer would be "unknown", so it is refused instead
    wrong = r"enrolled with some-other-model \(1 people\), not with dlib-resnet"
    with pytest.raises(DataError, match=wrong + ".*nobody can be identified"):
        g.identify_encoding(vectors(1, 1)[0])
    with pytest.raises(DataError, match=wrong + ".*'Ada' was not enrolled"):
        g.enroll_encodings("Ada", vectors(1, 2), ["a"])
    assert len(g) == 1
    s.add_person("Ada", None, MODEL, vectors(1, 2), ["a"])  # a gallery that holds both models
    assert s.encoding_models() == {MODEL: 1, "some-other-model": 1}
    probe = near(vectors(1, 2)[0], 5)
    got = g.identify_encoding(probe)
    expect = float(g.model.distance(vectors(1, 2), probe[None])[0])
    assert got.name == "Ada" and got.distance == pytest.approx(expect, rel=1e-6)
    assert isinstance(g._search_index()[0], ExactIndex)
    s.close()


def test_gallery_path_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        Gallery(tmp_path / "missing" / "g.db")  # a typo in a path is not a new folder
    with pytest.raises(DataError, match="give 1 to 5 images, got 0"):
        Gallery(":memory:").enroll("Ada", [])


def test_faces_cli_people_on_any_store(shared_url, capsys):
    """`siamnet people --gallery G` where G is a file or a postgresql:// URL."""
    import json

    from siamnet.cli import main

    with open_store(shared_url) as s:
        s.add_person("Ada", "E1", MODEL, vectors(2, 1), ["a", "b"])
        s.add_person("Bob", None, MODEL, vectors(1, 2), ["c"])
    assert main(["people", "--gallery", shared_url, "--rename", "Bob", "Robert", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [(p["name"], p["encodings"]) for p in out["people"]] == [("Ada", 2), ("Robert", 1)]
    assert main(["people", "--gallery", shared_url, "--delete", "Ada"]) == 0
    assert "1 people in" in capsys.readouterr().out
    assert main(["people", "--gallery", shared_url, "--delete", "Ada"]) == 2
    assert "no person named 'Ada'" in capsys.readouterr().err
