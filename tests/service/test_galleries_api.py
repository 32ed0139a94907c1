"""/v1/galleries/{gallery}/…: the gallery operations over HTTP for a model of another kind
(a glyph model here), with the same tokens and clear 4xx errors; the attendance gallery is the
face gallery of the service."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from _service_support import bearer
from _support import make_model, write_glyph_dataset


def png(path) -> tuple:
    return (path.name, path.read_bytes(), "image/png")


@pytest.fixture
def glyph_setup(tmp_path):
    model = make_model(tmp_path / "tiny", input_size=28, channels=8)
    root = write_glyph_dataset(tmp_path / "chars", classes=4, per_class=3)
    classes = {d.name: sorted(d.glob("*.png")) for d in sorted(root.iterdir())}
    return str(model), classes


def test_gallery_of_glyphs_over_http(make_client, glyph_setup):
    model, classes = glyph_setup
    client, tokens = make_client()
    A, K = bearer(tokens["admin"]), bearer(tokens["kiosk"])
    names = sorted(classes)
    # a new gallery needs its model; the kiosk token may not touch galleries
    r = client.post("/v1/galleries/chars/subjects", data={"subject": names[0]},
                    files=[("examples", png(classes[names[0]][0]))], headers=A)
    assert r.status_code == 400 and "model" in r.json()["error"]
    r = client.post("/v1/galleries/chars/subjects", data={"subject": names[0], "model": model},
                    files=[("examples", png(classes[names[0]][0]))], headers=K)
    assert r.status_code == 403
    for n in names:
        r = client.post("/v1/galleries/chars/subjects", data={"subject": n, "model": model},
                        files=[("examples", png(classes[n][0]))], headers=A)
        assert r.status_code == 201, r.text
    listed = {g["name"]: g for g in client.get("/v1/galleries", headers=A).json()}
    assert listed["chars"]["subjects"] == len(names) and listed["chars"]["kind"] == "glyph"
    assert listed["attendance"]["kind"] == "face"
    r = client.post("/v1/galleries/chars/identify", data={"top": "2"},
                    files=[("input", png(classes[names[1]][0]))], headers=A)
    assert r.status_code == 200, r.text
    hit = r.json()["results"][0]
    assert hit["nearest"] == names[1] and len(hit["matches"]) == 2
    r = client.post("/v1/galleries/chars/verify", data={"subject": names[1]},
                    files=[("input", png(classes[names[1]][0]))], headers=A)
    assert r.status_code == 200 and r.json()["same"] is True
    r = client.post(f"/v1/galleries/chars/subjects/{names[1]}/examples",
                    files=[("examples", png(p)) for p in classes[names[1]][1:3]], headers=A)
    assert r.status_code == 200 and r.json()["subject"]["encodings"] == 3
    r = client.patch(f"/v1/galleries/chars/subjects/{names[2]}", json={"name": "renamed"}, headers=A)
    assert r.status_code == 200 and r.json()["subject"]["name"] == "renamed"
    assert client.delete("/v1/galleries/chars/subjects/renamed", headers=A).status_code == 204
    people = client.get("/v1/galleries/chars/subjects", headers=A).json()["subjects"]
    assert sorted(p["name"] for p in people) == sorted(set(names) - {names[2]})


def test_gallery_bad_requests_change_nothing(make_client, glyph_setup):
    model, classes = glyph_setup
    client, tokens = make_client()
    A = bearer(tokens["admin"])
    n = sorted(classes)[0]
    assert client.post("/v1/galleries/Bad Name/subjects", data={"subject": "x", "model": model},
                       files=[("examples", png(classes[n][0]))], headers=A).status_code == 400
    assert client.post("/v1/galleries/nope/identify", files=[("input", png(classes[n][0]))],
                       headers=A).status_code == 404
    r = client.post("/v1/galleries/chars/subjects", data={"subject": "x", "model": "no-such-model"},
                    files=[("examples", png(classes[n][0]))], headers=A)
    assert r.status_code in (400, 422) and "no-such-model" in r.json()["error"]
    assert client.post("/v1/galleries/chars/subjects", data={"subject": n, "model": model},
                       files=[("examples", png(classes[n][0]))], headers=A).status_code == 201
    # text sent to an image model; a broken image; both refused, nothing enrolled
    r = client.post("/v1/galleries/chars/subjects", data={"subject": "t", "texts": ["hello"]}, headers=A)
    assert r.status_code == 400 and "image files" in r.json()["error"]
    r = client.post("/v1/galleries/chars/subjects", data={"subject": "b"},
                    files=[("examples", ("b.png", b"\x89PNG broken", "image/png"))], headers=A)
    assert 400 <= r.status_code < 500
    subjects = client.get("/v1/galleries/chars/subjects", headers=A).json()["subjects"]
    assert [p["name"] for p in subjects] == [n]
