"""Security of the HTTP API: roles, hostile input (each a clear 4xx JSON error that changes
nothing), SQL-looking names stored literally, and logs free of tokens and encodings."""

from __future__ import annotations

import logging
import re

import pytest
from PIL import Image

from _service_support import bearer, jpeg_bytes, png_bomb, png_header

pytestmark = pytest.mark.data

KIOSK_ROUTES = {("POST", "/api/checkin"), ("GET", "/api/kiosk/whoami")}
PUBLIC = {"/health", "/docs", "/openapi.json", "/docs/oauth2-redirect", "/redoc", "/", "/kiosk",
          "/admin", "/static"}


def admin_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) of the app that is neither public nor for kiosks."""
    out = []
    for route in app.routes:
        path = getattr(route, "path", "")
        if path in PUBLIC or not path.startswith("/api"):
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method in ("HEAD", "OPTIONS") or (method, path) in KIOSK_ROUTES:
                continue
            out.append((method, path.replace("{name:path}", "Somebody").replace("{name}", "x")
                        .replace("{person_id}", "1")))
    return out


@pytest.fixture
def enrolled(make_client, photos):
    """A service with one person enrolled; the state snapshot helper."""
    client, tokens = make_client()
    first = next(iter(photos.values()))
    r = client.post("/api/people", data={"name": "Somebody"}, headers=bearer(tokens["admin"]),
                    files=[("images", (p.name, p.read_bytes(), "image/jpeg")) for p in first[:2]])
    assert r.status_code == 201, r.text
    return client, tokens


def snapshot(client) -> tuple:
    """Everything the store holds that a request could change."""
    store = client.app.state.service.store
    ids, vectors = store.encodings("dlib-resnet")
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    events = store.events(now - timedelta(days=2), now + timedelta(days=2))
    return ([p.to_dict() for p in store.people()], ids.tolist(), vectors.tobytes(),
            [e.to_dict() for e in events], [a.id for a in store.audit_log(1000)],
            store.generation())


def test_every_admin_route_refuses_kiosk_and_no_token(enrolled):
    client, tokens = enrolled
    routes = admin_routes(client.app)
    assert len(routes) >= 11, routes
    before = snapshot(client)
    for method, path in routes:
        for headers, status in (({}, 401), (bearer("not-a-token"), 401),
                                ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401),
                                (bearer(tokens["kiosk"]), 403)):
            r = client.request(method, path, headers=headers)
            assert r.status_code == status, (method, path, headers, r.text)
            assert "token" in r.json()["error"]
    # the kiosk routes refuse no token / a wrong one too
    for method, path in KIOSK_ROUTES:
        assert client.request(method, path).status_code == 401
        assert client.request(method, path, headers=bearer(tokens["admin"] + "x")).status_code == 401
    assert snapshot(client) == before


def test_sql_looking_names_are_stored_literally(enrolled, photos):
    client, tokens = enrolled
    A = bearer(tokens["admin"])
    ident = list(photos)[1]
    name = "Robert'); DROP TABLE people;-- \" OR 1=1 /* ü"
    r = client.post("/api/people", data={"name": name, "employee_id": "1' OR '1'='1"}, headers=A,
                    files=[("images", ("a.jpg", photos[ident][0].read_bytes(), "image/jpeg"))])
    assert r.status_code == 201 and r.json()["name"] == name.strip()
    names = [p["name"] for p in client.get("/api/people", headers=A).json()]
    assert names == sorted([name.strip(), "Somebody"])
    r = client.get("/api/attendance", params={"person": "x' OR 1=1 --"}, headers=A)
    assert r.status_code == 404 and "x' OR 1=1 --" in r.json()["error"]
    assert client.get("/api/attendance", params={"person": name}, headers=A).json() == []
    # a name a client would rewrite in a URL (issue 15, item 2) is refused, not stored
    r = client.patch(f"/api/people/{name.strip()}", json={"name": "../../etc/passwd"}, headers=A)
    assert r.status_code == 400 and "'..' part" in r.json()["error"]
    for hidden in ("..", "\u200b\u200b", "Eve\u202egnp.jpg", "Ada\r\nX", "bad\ufffd"):
        r = client.patch(f"/api/people/{name.strip()}", json={"name": hidden}, headers=A)
        assert r.status_code == 400, (hidden, r.text)
    # the same name in another case is the same person
    r = client.patch(f"/api/people/{name.strip()}", json={"name": "somebody"}, headers=A)
    assert r.status_code == 409 and "already enrolled" in r.json()["error"]
    assert client.delete("/api/people/../../etc/passwd", headers=A).status_code in (204, 404)


def bad_uploads(photo_bytes: bytes) -> list[tuple[str, tuple, int, str]]:
    """(what, (filename, bytes, type), status, words the error must contain)."""
    return [
        ("empty file", ("empty.jpg", b"", "image/jpeg"), 400, "empty"),
        ("non-image", ("notes.jpg", b"meeting notes, not a photo" * 20, "image/jpeg"), 400,
         "not an image"),
        ("truncated JPEG", ("cut.jpg", photo_bytes[: len(photo_bytes) // 3], "image/jpeg"), 400,
         "truncated"),
        ("decompression bomb (header)", ("huge.png", png_header(20000, 20000), "image/png"), 413,
         "megapixel"),
        ("decompression bomb (real)", ("bomb.png", png_bomb(7000, 6000), "image/png"), 413,
         "(7000x6000), more than the 40 megapixels"),
        ("path traversal", ("../../etc/passwd.jpg", photo_bytes, "image/jpeg"), 400, "path"),
        ("windows traversal", ("..\\..\\boot.jpg", photo_bytes, "image/jpeg"), 400, "path"),
        ("oversized", ("big.jpg", photo_bytes + b"\0" * (10 * 2**20), "image/jpeg"), 413, "MB"),
        ("no face", ("wall.jpg", jpeg_bytes(Image.new("RGB", (200, 200), (90, 90, 90))),
                     "image/jpeg"), 422, "no face"),
    ]


def test_hostile_uploads_get_clear_4xx_and_change_nothing(enrolled, photos):
    client, tokens = enrolled
    A, K = bearer(tokens["admin"]), bearer(tokens["kiosk"])
    ident = list(photos)[2]
    good = photos[ident][0].read_bytes()
    before = snapshot(client)
    for what, part, status, words in bad_uploads(good):
        label = part[0]
        # enroll: the bad file among good ones, so a partial write would show
        r = client.post("/api/people", data={"name": "Mallory"}, headers=A, files=[
            ("images", ("good.jpg", good, "image/jpeg")), ("images", part)])
        assert r.status_code == status, (what, r.status_code, r.text)
        err = r.json()["error"]
        assert words.lower() in err.lower() and "images[2]" in err, (what, err)
        assert label.split("/")[-1].split("\\")[-1][:20] in err or len(label) > 80, (what, err)
        if what == "no face":
            continue  # a wall is a fine check-in photo: the answer is "no_face", not an error
        r = client.post("/api/checkin", headers=K, files={"image": part})
        assert r.status_code == status, (what, r.status_code, r.text)
        assert words.lower() in r.json()["error"].lower()
        r = client.post("/api/people/Somebody/photos", headers=A, files=[("images", part)])
        assert r.status_code == status and words.lower() in r.json()["error"].lower(), what
    assert snapshot(client) == before


def test_malformed_requests_get_clear_4xx(enrolled):
    client, tokens = enrolled
    A, K = bearer(tokens["admin"]), bearer(tokens["kiosk"])
    before = snapshot(client)
    checks = [
        (client.post("/api/checkin", headers=K), 422, "image"),  # empty body
        (client.post("/api/checkin", headers={**K, "Content-Type": "multipart/form-data"},
                     content=b""), 400, ""),
        (client.post("/api/checkin", headers=K, data={"image": "just text"}), 4, "image"),
        (client.post("/api/people", headers=A, data={"name": "x"}), 422, "images"),
        (client.post("/api/people", headers=A,
                     files=[("images", ("a.jpg", b"x", "image/jpeg"))]), 422, "name"),
        (client.post("/api/people", headers=A, data={"name": "   "},
                     files=[("images", ("a.jpg", b"x", "image/jpeg"))]), 400, "name"),
        (client.post("/api/people", headers=A, data={"name": "n" * 201},
                     files=[("images", ("a.jpg", b"x", "image/jpeg"))]), 400, "200"),
        (client.post("/api/people", headers=A, data={"name": "Six"},
                     files=[("images", (f"{i}.jpg", b"x", "image/jpeg")) for i in range(6)]),
         400, "1 to 5"),
        (client.post("/api/checkin", headers={**K, "Content-Length": str(60 * 2**20)},
                     content=b"x"), 413, "larger"),
        (client.patch("/api/people/Nobody", headers=A, json={"name": "Y"}), 404, "Nobody"),
        (client.patch("/api/people/Somebody", headers=A, json={}), 422, "name"),
        (client.patch("/api/people/Somebody", headers=A, content=b"{not json",
                      ), 422, ""),
        (client.delete("/api/people/Nobody", headers=A), 404, "Nobody"),
        (client.post("/api/people/Nobody/photos", headers=A,
                     files=[("images", ("a.jpg", b"x", "image/jpeg"))]), 4, ""),
        (client.get("/api/attendance?day=2024-02-30", headers=A), 422, "2024-02-30"),
        (client.get("/api/attendance?from=2024-03-02&to=2024-03-01", headers=A), 422, "before"),
        (client.get("/api/attendance.csv?day=yesterday", headers=A), 422, "yesterday"),
        # issue 15, item 4: the ends of the calendar are a 422, not an OverflowError
        (client.get("/api/attendance?day=9999-12-31", headers=A), 422, "9998-12-31"),
        (client.get("/api/attendance?from=0001-01-01", headers=A), 422, "1900-01-01"),
        (client.get("/api/attendance?from=9998-12-30&to=9999-12-31", headers=A), 422, "9999"),
        (client.get("/api/attendance.csv?day=9999-12-31", headers=A), 422, "9999-12-31"),
        (client.get("/api/attendance.csv?from=0001-01-01&to=0001-01-02", headers=A), 422, "0001"),
        (client.get("/api/attendance/daily?day=9999-12-31", headers=A), 422, "9999-12-31"),
        (client.get("/api/attendance/daily?from=0001-01-01&to=0001-12-31", headers=A), 422,
         "0001"),
        (client.get("/api/attendance?day=20240303", headers=A), 422, "YYYY-MM-DD"),
        (client.get("/api/attendance?person=Nobody", headers=A), 404, "no person named"),
        (client.get("/api/audit?limit=0", headers=A), 422, "limit"),
        (client.get("/api/nothing-here", headers=A), 404, ""),
    ]
    for i, (r, status, words) in enumerate(checks):
        ok = r.status_code == status if status >= 100 else 400 <= r.status_code < 500
        assert ok, (i, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json"), (i, r.text)
        assert words.lower() in r.json()["error"].lower(), (i, r.text)
        assert ".db" not in r.json()["error"], (i, r.text)  # never the database's path
    assert snapshot(client) == before


def test_logs_never_hold_tokens_or_encodings(make_client, photos, caplog):
    caplog.set_level(logging.DEBUG)
    client, tokens = make_client()
    A, K = bearer(tokens["admin"]), bearer(tokens["kiosk"])
    ids = list(photos)
    files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in photos[ids[0]][:2]]
    assert client.post("/api/people", data={"name": "Logged"}, files=files, headers=A).status_code == 201
    probe = {"image": ("p.jpg", photos[ids[0]][3].read_bytes(), "image/jpeg")}
    assert client.post("/api/checkin", files=probe, headers=K).json()["status"] == "recorded"
    client.post("/api/checkin", files={"image": ("x.jpg", b"garbage", "image/jpeg")}, headers=K)
    client.get("/api/people", headers=bearer("wrong-token"))
    client.get("/api/attendance.csv", headers=A)
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "check-in" in text  # the service does log
    store = client.app.state.service.store
    _, vectors = store.encodings("dlib-resnet")
    for token in tokens.values():
        assert token not in text and token[:12] not in text
    for value in vectors[0][:8]:
        assert f"{value:.4f}" not in text and repr(float(value))[:8] not in text
    assert not re.search(r"(-?\d+\.\d+[,\s]+){8,}", text), "a run of numbers looks like an encoding"
