"""Issue 15 against the HTTP service and `siamnet serve`: crafted images and names are clear 4xx
JSON errors that change nothing, names are one person regardless of case, people can be
addressed by id, storage faults are 503/507 with a plain body and reported by /health, unknown
faces are recorded once per stranger and kiosk, /docs works offline, every face thread is warm
before the first request, and the start of `siamnet serve` fails in one line."""

from __future__ import annotations

import io
import logging
import socket
import sqlite3
import stat

import pytest
from PIL import Image

import _image_corpus as C
from _service_support import bearer, jpeg_bytes

pytestmark = pytest.mark.data


def snapshot(client) -> tuple:
    store = client.app.state.service.store
    ids, vectors = store.encodings("dlib-resnet")
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    events = store.events(now - timedelta(days=2), now + timedelta(days=2))
    return ([p.to_dict() for p in store.people()], ids.tolist(), vectors.tobytes(),
            [e.to_dict() for e in events], [a.id for a in store.audit_log(1000)])


def multipart(parts: list[tuple[bytes, bytes]]) -> tuple[bytes, dict]:
    """A multipart body written byte by byte (so a name can hold bytes that are not UTF-8):
    ``parts`` are (Content-Disposition parameters, body)."""
    body = b""
    for disposition, data in parts:
        body += (b"--XBOUNDARY\r\nContent-Disposition: form-data; " + disposition
                 + b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    body += b"--XBOUNDARY--\r\n"
    return body, {"Content-Type": "multipart/form-data; boundary=XBOUNDARY"}


@pytest.fixture
def service(make_client, photos):
    """A service with "Priya Sharma" enrolled."""
    client, tokens = make_client()
    ids = list(photos)
    files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in photos[ids[0]][:2]]
    r = client.post("/api/people", data={"name": "Priya Sharma"}, files=files,
                    headers=bearer(tokens["admin"]))
    assert r.status_code == 201, r.text
    return client, tokens, photos


def test_every_face_thread_is_warm_before_the_first_request(make_client):
    client, _ = make_client(workers=2)
    svc = client.app.state.service
    import threading

    from siamnet.faces.api import _per_thread

    barrier = threading.Barrier(2, timeout=30)

    def built():
        ready = bool(_per_thread.__dict__.get("pipelines"))
        barrier.wait()
        return threading.current_thread().name, ready

    answers = [f.result() for f in [svc.pool.submit(built) for _ in range(2)]]
    assert len({name for name, _ in answers}) == 2 and all(ready for _, ready in answers), answers


def test_crafted_images_are_4xx_naming_the_file_and_change_nothing(service):
    client, tokens, photos = service
    A, K = bearer(tokens["admin"]), bearer(tokens["kiosk"])
    good = next(iter(photos.values()))[2].read_bytes()
    before = snapshot(client)
    for name, data in C.corpus().items():
        r = client.post("/api/checkin", headers=K, files={"image": (name, data, "image/jpeg")})
        assert r.status_code == 400, (name, r.text)
        assert r.json()["error"].startswith(f"image {name!r}: "), r.text
        assert "Error" not in r.json()["error"], r.text  # no Python exception names
        r = client.post("/api/people", data={"name": "Mallory"}, headers=A, files=[
            ("images", ("good.jpg", good, "image/jpeg")), ("images", (name, data, "image/png"))])
        assert r.status_code == 400 and f"images[2] {name!r}: cannot read image" in r.json()[
            "error"] or "not an image" in r.json()["error"], (name, r.text)
    # the zero-denominator EXIF rational: read upright, not a 500
    r = client.post("/api/checkin", headers=K, files={"image": ("exif.jpg", C.exif_bad_rational(),
                                                                 "image/jpeg")})
    assert r.status_code == 200 and r.json()["status"] == "no_face", r.text
    # a 200,000-frame GIF: the first frame, at once
    r = client.post("/api/checkin", headers=K, files={"image": ("many.gif",
                                                                 C.many_frame_gif(200_000),
                                                                 "image/gif")})
    assert r.status_code == 200 and r.json()["status"] == "no_face", r.text
    assert snapshot(client) == before


def test_names_case_ids_and_undecodable_text(service):
    client, tokens, photos = service
    A = bearer(tokens["admin"])
    tiny = jpeg_bytes(Image.new("RGB", (40, 40), (90, 90, 90)))
    before = snapshot(client)
    bad_names = ["\u200b\u200b", "Eve\u202egnp.jpg", "a\r\nb", "..", "a/../b", "\u2066x\u2069"]
    for name in bad_names:
        r = client.post("/api/people", data={"name": name}, headers=A,
                        files=[("images", ("a.jpg", tiny, "image/jpeg"))])
        assert r.status_code == 400, (name, r.text)
    r = client.post("/api/people", data={"name": "priya sharma"}, headers=A,
                    files=[("images", ("a.jpg", tiny, "image/jpeg"))])
    assert r.status_code == 409 and "already enrolled" in r.json()["error"], r.text
    # bytes that are not UTF-8, in the name and in a file name
    body, headers = multipart([(b'name="name"', b"Bad \xff\xfe Name"),
                               (b'name="images"; filename="a.jpg"', tiny)])
    r = client.post("/api/people", content=body, headers={**A, **headers})
    assert r.status_code == 400 and "not valid UTF-8" in r.json()["error"], r.text
    body, headers = multipart([(b'name="name"', b"Good Name"),
                               (b'name="images"; filename="a\xff.jpg"', tiny)])
    r = client.post("/api/people", content=body, headers={**A, **headers})
    assert r.status_code == 400 and "not valid UTF-8" in r.json()["error"], r.text
    body, headers = multipart([(b'name="name"', b"Good Name"),
                               (b'name="images"; filename="a\nb.jpg"', tiny)])
    r = client.post("/api/people", content=body, headers={**A, **headers})
    assert r.status_code == 400 and "control characters" in r.json()["error"], r.text
    assert snapshot(client) == before
    # by id: any stored name can be renamed and deleted, whatever a URL would make of it
    store = client.app.state.service.store
    (priya,) = store.people()
    store.conn.execute("UPDATE people SET name = '..', name_key = '..' WHERE id = ?", (priya.id,))
    assert client.get(f"/api/person/{priya.id}", headers=A).json()["name"] == ".."
    r = client.patch(f"/api/person/{priya.id}", json={"name": "Priya S."}, headers=A)
    assert r.status_code == 200 and r.json()["name"] == "Priya S.", r.text
    r = client.patch(f"/api/person/{priya.id}", json={"name": ".."}, headers=A)
    assert r.status_code == 400 and "no letter or digit" in r.json()["error"]
    assert client.get("/api/person/999", headers=A).status_code == 404
    assert client.delete(f"/api/person/{priya.id}", headers=A).status_code == 204
    assert client.get("/api/people", headers=A).json() == []


def test_storage_faults_are_clear_and_health_reports_them(service, caplog):
    client, tokens, photos = service
    A, K = bearer(tokens["admin"]), bearer(tokens["kiosk"])
    svc = client.app.state.service
    ids = list(photos)
    files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in photos[ids[1]][:2]]
    assert client.get("/health").json()["writable"] is True
    # read-only database
    svc.store.conn.execute("PRAGMA query_only = ON")
    r = client.post("/api/people", data={"name": "Ro"}, headers=A, files=files)
    assert r.status_code == 503 and "read-only" in r.json()["error"], r.text
    svc._health = None
    r = client.get("/health")
    assert r.status_code == 503 and r.json()["status"] == "unwritable"
    assert "read-only" in r.json()["error"] and ".db" not in r.json()["error"]
    svc.store.conn.execute("PRAGMA query_only = OFF")
    # full disk: no page may be added
    pages = svc.store.conn.execute("PRAGMA page_count").fetchone()[0]
    svc.store.conn.execute(f"PRAGMA max_page_count = {pages}")
    statuses = set()
    for i in range(6):
        # the same photos each time: allowed as a duplicate, so that only the disk can refuse them
        r = client.post("/api/people", data={"name": f"Full {i}", "employee_id": f"{i}" + "E" * 150,
                                             "allow_duplicate": "true"},
                        headers=A, files=files)
        statuses.add(r.status_code)
        if r.status_code == 507:
            assert "disk is full" in r.json()["error"], r.text
            break
    assert 507 in statuses, statuses
    svc._health = None
    assert "disk is full" in client.get("/health").json()["error"]
    svc.store.conn.execute(f"PRAGMA max_page_count = {pages * 1000}")
    # a damaged row: 503 naming the table, no traceback in the log
    svc.store.conn.execute("UPDATE people SET created = 'garbage'")
    caplog.set_level(logging.INFO)
    r = client.get("/api/people", headers=A)
    assert r.status_code == 503 and "damaged row (table people" in r.json()["error"], r.text
    assert "Traceback" not in caplog.text


def test_internal_errors_are_logged_once_without_their_message(service, caplog):
    """The app logs a 500's type and place; nothing is raised on to uvicorn to log again."""
    from starlette.testclient import TestClient

    client, _, _ = service
    svc = client.app.state.service

    def broken():
        raise RuntimeError("-".join(("secret", "request", "data")))

    svc.store.count_people = broken
    caplog.set_level(logging.DEBUG)
    plain = TestClient(client.app, raise_server_exceptions=True)  # would raise a re-raised error
    r = plain.get("/health")
    assert r.status_code == 500 and r.json() == {"error": "internal server error (see the "
                                                          "service log)"}
    assert "RuntimeError" in caplog.text and "secret-request-data" not in caplog.text


def test_an_unknown_face_is_one_row_per_stranger_and_kiosk(service):
    client, tokens, photos = service
    K = bearer(tokens["kiosk"])
    ids = list(photos)
    stranger, other = photos[ids[3]], photos[ids[4]]

    def check(path, kiosk="door"):
        r = client.post("/api/checkin", headers=K, data={"kiosk": kiosk},
                        files={"image": (path.name, path.read_bytes(), "image/jpeg")})
        assert r.status_code == 200, r.text
        return r.json()

    first = check(stranger[0])
    assert first["status"] == "unknown" and first["recorded"] is True
    for path in (stranger[0], stranger[1], stranger[0]):  # standing in front of the kiosk
        again = check(path)
        assert again["status"] == "unknown" and again["recorded"] is False
        assert again["event"]["id"] == first["event"]["id"]
    assert check(other[0])["recorded"] is True  # another stranger is another row
    assert check(stranger[0], kiosk="lobby")["recorded"] is True  # another kiosk too
    rows = client.get("/api/attendance", headers=bearer(tokens["admin"])).json()
    assert [e["decision"] for e in rows] == ["unknown"] * 3


def test_docs_and_favicon_need_nothing_from_outside(make_client):
    client, _ = make_client()
    for page, asset in (("/docs", "/docs-assets/swagger-ui-bundle.js"),
                        ("/redoc", "/docs-assets/redoc.standalone.js")):
        r = client.get(page)
        assert r.status_code == 200 and "http://" not in r.text and "https://" not in r.text
        assert asset in r.text and client.get(asset).status_code == 200
        assert b"https://cdn." not in client.get(asset).content  # nor do their scripts
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    assert Image.open(io.BytesIO(r.content)).format == "ICO"


# -- siamnet serve ---------------------------------------------------------------------------


def serve(capsys, *argv) -> tuple[int, str, str]:
    from siamnet.cli import main

    code = main(["serve", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_serve_refuses_a_busy_port_before_making_tokens(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = serve(capsys, "--data", str(tmp_path / "d"), "--port", str(port))
    assert code == 2 and out == "", out
    assert err.strip() == (f"siamnet: error: --port {port}: 127.0.0.1:{port} is already in use "
                           "(another siamnet serve?); stop it, or choose another port with --port")
    assert not (tmp_path / "d" / "tokens.txt").exists()


def test_serve_refuses_a_zero_byte_store_and_keeps_the_tokens(tmp_path, capsys):
    data = tmp_path / "d"
    data.mkdir()
    (data / "siamnet.db").write_bytes(b"")
    (data / "tokens.txt").write_text("admin: old-token\n")
    code, out, err = serve(capsys, "--data", str(data), "--port", "0")
    assert code == 2 and "the store file is empty (0 bytes)" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert (data / "tokens.txt").read_text() == "admin: old-token\n"
    assert (data / "siamnet.db").stat().st_size == 0


def test_serve_on_a_damaged_token_row_says_so_in_one_line(tmp_path, capsys):
    from siamnet.gallery import open_store

    data = tmp_path / "d"
    data.mkdir(mode=0o755)
    with open_store(data / "siamnet.db") as s:
        s.set_setting("auth.tokens", "{not json")
    for name in ("siamnet.db",):  # made 0600 inside an existing 0755 folder
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
    code, out, err = serve(capsys, "--data", str(data), "--port", "0")
    assert code == 2 and "token list (setting auth.tokens) is damaged" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    db = sqlite3.connect(data / "siamnet.db")
    assert db.execute("SELECT value FROM settings WHERE key = 'auth.tokens'").fetchone()[0] == \
        "{not json"


def test_the_same_face_under_a_second_name_is_refused_with_an_override(service):
    """Photos that match an enrolled person answer 409 saying who and how closely; the
    explicit override (allow_duplicate) enrolls them; a refused request changes nothing."""
    client, tokens, photos = service
    A = bearer(tokens["admin"])
    ident = list(photos)[2]
    first = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in photos[ident][:2]]
    again = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in photos[ident][2:3]]
    assert client.post("/api/people", data={"name": "Dana"}, files=first, headers=A).status_code == 201
    before = client.get("/api/people", headers=A).json()
    r = client.post("/api/people", data={"name": "Dana Twin"}, files=again, headers=A)
    assert r.status_code == 409 and "matches 'Dana'" in r.json()["error"] and "distance" in r.json()["error"]
    assert client.get("/api/people", headers=A).json() == before
    r = client.post("/api/people", data={"name": "Dana Twin", "allow_duplicate": "true"}, files=again, headers=A)
    assert r.status_code == 201, r.text
