"""The HTTP API end to end on real face photos: enroll, identify, verify, check-in (recorded,
cooldown, unknown, no face), attendance (JSON, CSV, daily), rename, delete, audit, tokens."""

from __future__ import annotations

import csv
import io
import os
import stat
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

from _service_support import bearer, jpeg_bytes

pytestmark = pytest.mark.data


def files(paths, field: str = "images"):
    return [(field, (p.name, p.read_bytes(), "image/jpeg")) for p in paths]


def one(path, field: str = "image"):
    return {field: (path.name, path.read_bytes(), "image/jpeg")}


def core_flow(client, tokens, photos) -> None:
    """The whole API once; shared by the SQLite and the PostgreSQL runs."""
    A, K = bearer(tokens["admin"]), bearer(tokens["kiosk"])
    ids = list(photos)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["people"] == 0 and health["model"] == "dlib-resnet"

    for i, ident in enumerate(ids[:3]):
        r = client.post("/api/people", data={"name": f"Person {i}", "employee_id": f"E{i}"},
                        files=files(photos[ident][:2]), headers=A)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["name"] == f"Person {i}" and body["employee_id"] == f"E{i}"
        assert body["encodings"] == 2 and isinstance(body["id"], int)
    r = client.post("/api/people", data={"name": "Person 0"}, files=files(photos[ids[3]][:1]),
                    headers=A)
    assert r.status_code == 409 and "Person 0" in r.json()["error"]
    listed = client.get("/api/people", headers=A).json()
    assert [p["name"] for p in listed] == ["Person 0", "Person 1", "Person 2"]
    assert client.get("/health").json()["people"] == 3

    # identify and verify
    probe = {f"Person {i}": photos[ident][3] for i, ident in enumerate(ids[:3])}
    found = client.post("/api/identify", files=one(probe["Person 0"]), headers=A).json()
    assert found[0]["name"] == "Person 0" and found[0]["known"] and found[0]["distance"] < 0.6
    same = client.post("/api/verify", headers=A, files={
        "a": ("a.jpg", photos[ids[0]][0].read_bytes(), "image/jpeg"),
        "b": ("b.jpg", probe["Person 0"].read_bytes(), "image/jpeg")}).json()
    diff = client.post("/api/verify", headers=A, files={
        "a": ("a.jpg", photos[ids[0]][0].read_bytes(), "image/jpeg"),
        "b": ("b.jpg", photos[ids[4]][0].read_bytes(), "image/jpeg")}).json()
    assert same["same"] is True and diff["same"] is False

    # check-in: recorded, cooldown (same kiosk), recorded (other kiosk), unknown, no face
    r = client.post("/api/checkin", files=one(probe["Person 1"]), data={"kiosk": "door"}, headers=K)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["status"] == "recorded" and first["name"] == "Person 1"
    assert first["event"]["decision"] == "known" and first["event"]["kiosk"] == "door"
    assert first["distance"] < first["threshold"]
    again = client.post("/api/checkin", files=one(photos[ids[1]][2]), data={"kiosk": "door"},
                        headers=K).json()
    assert again["status"] == "cooldown" and again["event"]["id"] == first["event"]["id"]
    lobby = client.post("/api/checkin", files=one(probe["Person 1"]), data={"kiosk": "lobby"},
                        headers=A).json()
    assert lobby["status"] == "recorded" and lobby["event"]["id"] != first["event"]["id"]
    stranger = client.post("/api/checkin", files=one(photos[ids[4]][0]), headers=K).json()
    assert stranger["status"] == "unknown" and stranger["name"] is None
    assert stranger["event"]["decision"] == "unknown" and stranger["event"]["kiosk"] == "kiosk"
    wall = jpeg_bytes(Image.new("RGB", (200, 200), (120, 130, 140)))
    nothing = client.post("/api/checkin", files={"image": ("wall.jpg", wall, "image/jpeg")},
                          headers=K).json()
    assert nothing["status"] == "no_face" and nothing["event"] is None

    # the cooldown ends: the same person at the same kiosk is recorded again
    desk = client.app.state.service.desk
    later = datetime.now(timezone.utc) + timedelta(seconds=desk.cooldown.total_seconds() + 1)
    desk.clock = lambda: later
    try:
        again = client.post("/api/checkin", files=one(probe["Person 1"]), data={"kiosk": "door"},
                            headers=K).json()
    finally:
        desk.clock = lambda: datetime.now(timezone.utc)
    assert again["status"] == "recorded"

    # add photos
    r = client.post("/api/people/Person 2/photos", files=files(photos[ids[2]][2:3]), headers=A)
    assert r.status_code == 200 and r.json()["encodings"] == 3

    # attendance: JSON, by person, CSV, daily
    events = client.get("/api/attendance", headers=A).json()
    assert [e["decision"] for e in events] == ["known", "known", "unknown", "known"]
    assert {e["name"] for e in events if e["decision"] == "known"} == {"Person 1"}
    assert all(e["local_time"] and e["day"] for e in events)
    day = events[0]["day"]
    assert len(client.get(f"/api/attendance?day={day}&person=Person 1", headers=A).json()) == 3
    assert client.get(f"/api/attendance?from={day}&to={day}&kiosk=lobby", headers=A).json()[0][
        "kiosk"] == "lobby"
    r = client.get(f"/api/attendance.csv?from={day}&to={day}", headers=A)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 4 and rows[0]["name"] == "Person 1" and rows[2]["decision"] == "unknown"
    daily = client.get(f"/api/attendance/daily?from={day}&to={day}", headers=A).json()
    assert daily == [{"day": day, "people": 1, "events": 4, "unknown": 1}]

    # rename keeps the person (and their encodings); delete erases them
    r = client.patch("/api/people/Person 1", json={"name": "Ada Lovelace"}, headers=A)
    assert r.status_code == 200 and r.json()["name"] == "Ada Lovelace" and r.json()["encodings"] == 2
    assert client.post("/api/identify", files=one(probe["Person 1"]),
                       headers=A).json()[0]["name"] == "Ada Lovelace"
    assert client.delete("/api/people/Ada Lovelace", headers=A).status_code == 204
    assert client.delete("/api/people/Ada Lovelace", headers=A).status_code == 404
    assert [p["name"] for p in client.get("/api/people", headers=A).json()] == ["Person 0", "Person 2"]
    gone = client.post("/api/identify", files=one(probe["Person 1"]), headers=A).json()
    assert gone[0]["name"] != "Ada Lovelace"

    audit = client.get("/api/audit?limit=50", headers=A).json()
    actions = [a["action"] for a in audit]
    for action in ("rename", "delete", "attendance.export"):
        assert any(action in a for a in actions), actions
    assert any("enroll" in a or "add_person" in a or "person" in a for a in actions), actions
    assert all(a["actor"] in ("system",) or a["actor"].startswith("admin:") for a in audit)


def test_core_api_sqlite(make_client, photos):
    client, tokens = make_client()
    core_flow(client, tokens, photos)


def test_health_docs_pages(make_client):
    client, _ = make_client()
    assert client.get("/health").json()["store"] == "sqlite"
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in ("/api/people", "/api/checkin", "/api/attendance", "/api/attendance.csv",
                 "/api/attendance/daily", "/api/audit", "/api/verify", "/api/identify"):
        assert path in spec["paths"], path
    for page in ("/kiosk", "/admin"):
        r = client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert client.get("/", follow_redirects=False).status_code in (302, 307)


def test_tokens_made_once_hashed_and_private(make_client, tmp_path):
    data = tmp_path / "svc"
    client, tokens = make_client(data=data)
    assert set(tokens) == {"admin", "kiosk"} and tokens["admin"] != tokens["kiosk"]
    path = data / "tokens.txt"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert tokens["admin"] in text and tokens["kiosk"] in text
    raw = b"".join(p.read_bytes() for p in data.iterdir() if p.name != "tokens.txt")
    assert tokens["admin"].encode() not in raw and tokens["kiosk"].encode() not in raw
    assert client.get("/api/kiosk/whoami", headers=bearer(tokens["kiosk"])).json()["role"] == "kiosk"
    # a second start on the same data folder keeps the tokens and makes none
    again, second = make_client(data=data)
    assert second == {}
    assert again.get("/api/people", headers=bearer(tokens["admin"])).status_code == 200


def test_core_api_postgresql(make_client, photos, pg_url):
    client, tokens = make_client(db=pg_url)
    assert client.get("/health").json()["store"] == "postgresql"
    core_flow(client, tokens, photos)
