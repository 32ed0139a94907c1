"""The gallery (siamnet.gallery on an SQLite store): enroll (all or nothing), identify, list,
rename, delete, persistence."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest
from PIL import Image

from siamnet.errors import DataError
from siamnet.faces.api import NoFaceError
from siamnet.gallery import SCHEMA_VERSION, Gallery


@pytest.fixture
def trio(face_model, people):
    """Three people with 2 enrolment images and 1 held-out probe each, plus a stranger."""
    ids = list(people)
    enrol = {f"person {i}": people[ident][:2] for i, ident in enumerate(ids[:3])}
    probes = {f"person {i}": people[ident][2] for i, ident in enumerate(ids[:3])}
    return enrol, probes, people[ids[3]][0]


def _rows(g: Gallery, table: str) -> int:
    return g.store._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_enroll_identify_list(trio):
    enrol, probes, stranger = trio
    g = Gallery(":memory:")
    assert g.identify(stranger)[0].name == "unknown"  # empty gallery
    for name, files in enrol.items():
        person = g.enroll(name, files, employee_id=name.replace("person ", "E"))
        assert person.encodings == 2 and person.name == name
    assert [p.name for p in g.people()] == sorted(enrol) and len(g) == 3
    for name, probe in probes.items():
        (answer,) = g.identify(probe)
        assert answer.known and answer.name == name and answer.distance < 0.6
        assert answer.employee_id == name.replace("person ", "E") and answer.box is not None
    (who,) = g.identify(stranger)
    assert not who.known and who.name == "unknown" and who.distance >= g.threshold
    assert who.nearest in enrol and who.employee_id is None
    assert g.identify(np.zeros((100, 100, 3), np.uint8)) == []
    # two people in one photo: one answer per face, largest first
    canvas = Image.new("RGB", (620, 360))
    canvas.paste(Image.open(probes["person 1"]).resize((200, 200)), (0, 80))
    canvas.paste(Image.open(probes["person 2"]).resize((360, 360)), (260, 0))
    assert [a.name for a in g.identify(np.asarray(canvas))] == ["person 2", "person 1"]
    # a stricter τ turns the same probe into "unknown"
    strict = Gallery(":memory:", threshold=0.05)
    strict.enroll("p", enrol["person 0"])
    assert strict.identify(probes["person 0"])[0].name == "unknown"


def test_enroll_is_all_or_nothing(trio, tmp_path):
    enrol, _, _ = trio
    good = enrol["person 0"]
    Image.new("RGB", (180, 180), (90, 90, 90)).save(tmp_path / "wall.png")
    (tmp_path / "broken.jpg").write_bytes(good[0].read_bytes()[:900])
    g = Gallery(tmp_path / "g.db")
    with pytest.raises(NoFaceError, match="wall.png: no face detected; 'Ada' was not enrolled"):
        g.enroll("Ada", [good[0], tmp_path / "wall.png"])
    with pytest.raises(DataError, match="broken.jpg"):
        g.enroll("Ada", [good[0], good[1], tmp_path / "broken.jpg"])
    with pytest.raises(DataError, match="1 to 5 images, got 6"):
        g.enroll("Ada", [good[0]] * 6)
    with pytest.raises(DataError, match="1 to 5 images, got 0"):
        g.enroll("Ada", [])
    assert len(g) == 0 and _rows(g, "encodings") == 0


def test_duplicates_rename_delete(trio):
    enrol, probes, _ = trio
    g = Gallery(":memory:")
    a, b = enrol["person 0"], enrol["person 1"]
    g.enroll("Ada", a[:1], employee_id="E1")
    g.enroll("Bob", b[:1])
    with pytest.raises(DataError, match="'Ada' is already enrolled"):
        g.enroll("Ada", b[:1])
    with pytest.raises(DataError, match="employee id 'E1' already belongs to 'Ada'"):
        g.enroll("Cy", b[:1], employee_id="E1")
    with pytest.raises(DataError, match="name must not be empty"):
        g.enroll("  ", a[:1])
    with pytest.raises(DataError, match="'Bob' is already enrolled"):
        g.rename("Ada", "Bob")
    assert g.rename("Ada", "Ada King").employee_id == "E1"
    assert g.identify(probes["person 0"])[0].name == "Ada King"
    g.delete("Ada King")
    with pytest.raises(DataError, match="no person named 'Ada King'"):
        g.delete("Ada King")
    with pytest.raises(DataError, match="no person named 'Zed'"):
        g.rename("Zed", "Zoe")
    assert [p.name for p in g.people()] == ["Bob"] and _rows(g, "encodings") == 1
    assert g.identify(probes["person 0"])[0].name == "unknown"


def test_persistence_wal_and_two_connections(trio, tmp_path):
    enrol, probes, _ = trio
    path = tmp_path / "people.db"
    with Gallery(path) as g:
        assert g.journal_mode == "wal" and g.schema_version == SCHEMA_VERSION
        g.enroll("Ada", enrol["person 0"])
        other = Gallery(path)
        assert other.identify(probes["person 1"])[0].name == "unknown"
        g.enroll("Bob", enrol["person 1"])  # seen by the other connection (data_version)
        assert other.identify(probes["person 1"])[0].name == "Bob"
        other.close()
    with Gallery(path) as again:
        assert [p.name for p in again.people()] == ["Ada", "Bob"]
        assert again.identify(probes["person 0"])[0].name == "Ada"
        versions = again.store._db.execute("SELECT version FROM schema_version").fetchall()
        assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


def test_rejects_files_that_are_not_galleries(face_model, tmp_path):
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(DataError, match="junk.db: not a usable siamnet gallery"):
        Gallery(tmp_path / "junk.db")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE invoices (id INTEGER)")
    other.commit()
    other.close()
    with pytest.raises(DataError, match="other.db: an SQLite file but not a siamnet gallery"):
        Gallery(tmp_path / "other.db")
    Gallery(tmp_path / "new.db").close()
    db = sqlite3.connect(tmp_path / "new.db")
    db.execute("INSERT INTO schema_version VALUES (99, 'later')")
    db.commit()
    db.close()
    with pytest.raises(DataError, match="schema version 99 is newer"):
        Gallery(tmp_path / "new.db")
    with pytest.raises(DataError, match="does not exist"):
        Gallery(tmp_path / "no" / "such" / "g.db")


def test_thousand_and_first_person_is_one_insert(trio):
    """1,000 people already enrolled (random encodings): enrolling one more only encodes
    that person's images and inserts them; identification stays exact."""
    enrol, probes, _ = trio
    g = Gallery(":memory:")
    rng = np.random.default_rng(0)
    for i in range(1000):
        v = rng.normal(size=(2, 128)).astype(np.float32)
        g.enroll_encodings(f"synthetic {i:04d}", v / np.linalg.norm(v, axis=1, keepdims=True),
                           ["random", "random"])
    g.identify(probes["person 0"])  # build the index once
    t = time.perf_counter()
    g.enroll("Ada", enrol["person 0"])
    seconds = time.perf_counter() - t
    assert len(g) == 1001 and _rows(g, "encodings") == 2002
    (answer,) = g.identify(probes["person 0"])
    assert answer.name == "Ada" and answer.known
    assert seconds < 10  # two images encoded and inserted; nothing else is computed
    with pytest.raises(DataError, match="NaN"):
        g.enroll_encodings("bad", np.full((1, 128), np.nan), ["x"])


def test_processes_creating_one_gallery_at_once(tmp_path):
    """Several processes opening the same new file: one creates the schema, none fails."""
    import subprocess
    import sys

    from _faces_support import REPO

    code = ("import sys; from siamnet.faces.gallery import Gallery; "
            "g = Gallery(sys.argv[1]); print(g.schema_version); g.close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "shared.db")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={"PYTHONPATH": str(REPO / "src")}) for _ in range(4)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, results
    assert [out.strip() for out, _ in results] == [str(SCHEMA_VERSION)] * 4
    with Gallery(tmp_path / "shared.db") as g:
        # each migration applied once, by one of the processes
        assert g.store._db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] \
            == SCHEMA_VERSION


def test_add_photos_all_or_nothing(trio, tmp_path):
    """add_photos: more images of an enrolled person, up to 5 in all; a bad image adds none."""
    enrol, probes, _ = trio
    a = enrol["person 0"]
    Image.new("RGB", (180, 180), (90, 90, 90)).save(tmp_path / "wall.png")
    g = Gallery(":memory:")
    g.enroll("Ada", a[:1])
    assert g.add_photos("Ada", a[1:2]).encodings == 2
    with pytest.raises(NoFaceError, match="wall.png: no face detected"):
        g.add_photos("Ada", [probes["person 0"], tmp_path / "wall.png"])
    assert g.get("Ada").encodings == 2 and _rows(g, "encodings") == 2
    with pytest.raises(DataError, match="has 2 of 5; give 1 to 3 images, got 4"):
        g.add_photos("Ada", [a[0]] * 4)
    with pytest.raises(DataError, match="no person named 'Zed'"):
        g.add_photos("Zed", a[:1])
    assert g.identify(probes["person 0"])[0].name == "Ada"


def test_the_same_face_under_a_second_name_is_refused(trio, capsys, tmp_path):
    """Photos that match someone already enrolled (below the identify τ) are refused under a new
    name, saying who and how closely; --allow-duplicate overrides it."""
    from siamnet.cli import main
    from siamnet.gallery.gallery import DuplicateError

    enrol, probes, _ = trio
    g = Gallery(":memory:")
    g.enroll("person 0", enrol["person 0"])
    with pytest.raises(DuplicateError, match=r"matches 'person 0', already enrolled \(distance 0\.\d+ < τ"):
        g.enroll("someone else", [probes["person 0"]])
    assert [p.name for p in g.people()] == ["person 0"]
    g.enroll("someone else", [probes["person 0"]], allow_duplicate=True)
    assert len(g) == 2
    db = str(tmp_path / "g.db")
    assert main(["enroll", "--gallery", db, "Ada", str(enrol["person 0"][0])]) == 0
    assert main(["enroll", "--gallery", db, "Ada again", str(probes["person 0"])]) == 2
    assert "matches 'Ada'" in capsys.readouterr().err
    assert main(["enroll", "--gallery", db, "Ada again", str(probes["person 0"]), "--allow-duplicate"]) == 0
