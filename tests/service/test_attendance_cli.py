"""``siamnet attendance today|report`` on a store filled directly (no server, no faces), and the
attendance arithmetic: local days, CSV cells a spreadsheet will not run, the daily rows."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from siamnet.cli import main


def event(store, t, kiosk="door", person=None, decision="known"):
    from siamnet.gallery.store import Event

    return store.add_event(Event(id=None, time=t, kiosk=kiosk,
                                 person_id=person.id if person else None,
                                 name=person.name if person else None, distance=0.4,
                                 decision=decision if person else "unknown", model="dlib-resnet"))


@pytest.fixture
def filled(tmp_path):
    """A data folder whose store has two people and events today and on two earlier days."""
    from siamnet.gallery.store import open_store

    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    # keep every "today" event on today's UTC date, even when the test runs just after midnight
    now = max(now, now.replace(hour=0, minute=10, second=0))
    with open_store(str(data / "siamnet.db")) as store:
        ada = store.add_person("Ada", "E1", "dlib-resnet", rng.normal(size=(2, 128)), ["a", "b"])
        bob = store.add_person("=HYPERLINK(\"x\")", None, "dlib-resnet", rng.normal(size=(1, 128)),
                               ["c"])
        event(store, now - timedelta(minutes=5), person=ada)
        event(store, now - timedelta(minutes=1), kiosk="lobby", person=ada)
        event(store, now - timedelta(minutes=2), person=bob)
        event(store, now - timedelta(minutes=3))  # unknown
        event(store, now - timedelta(days=2), person=bob)
    return data, now


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_today_table_json_and_csv(filled, capsys):
    data, now = filled
    code, out, _ = run(capsys, "attendance", "today", "--data", data, "--timezone", "UTC")
    assert code == 0
    assert "4 check-ins, 1 unknown" in out and "Ada" in out and "HYPERLINK" in out
    code, out, _ = run(capsys, "attendance", "today", "--data", data, "--timezone", "UTC", "--json")
    res = json.loads(out)
    ada = next(r for r in res["presence"] if r["name"] == "Ada")
    assert ada["checkins"] == 2 and ada["first"] < ada["last"]
    assert res["daily"] == [{"day": now.date().isoformat(), "people": 2, "events": 4, "unknown": 1}]
    code, out, _ = run(capsys, "attendance", "today", "--data", data, "--timezone", "UTC", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 4 and [r["decision"] for r in rows].count("unknown") == 1
    # a name that looks like a formula is written so that no spreadsheet runs it
    assert "'=HYPERLINK(\"x\")" in {r["name"] for r in rows}


def test_report_range_and_person(filled, capsys):
    data, now = filled
    first = (now - timedelta(days=3)).date().isoformat()
    code, out, _ = run(capsys, "attendance", "report", "--from", first, "--to",
                       now.date().isoformat(), "--data", data, "--timezone", "UTC", "--json")
    res = json.loads(out)
    assert code == 0 and res["events"] == 5 and len(res["daily"]) == 4
    assert [d["events"] for d in res["daily"]] == [0, 1, 0, 4]
    code, out, _ = run(capsys, "attendance", "report", "--from", first, "--data", data,
                       "--timezone", "UTC", "--person", "Ada", "--json")
    assert json.loads(out)["events"] == 0  # --to defaults to --from: that day Ada was away
    code, out, _ = run(capsys, "attendance", "report", "--from", first, "--to",
                       now.date().isoformat(), "--data", data, "--timezone", "UTC")
    assert code == 0 and "people" in out and "events" in out


@pytest.mark.parametrize("argv, words", [
    (["report", "--from", "2024-02-30"], "--from '2024-02-30': not a date"),
    (["report", "--from", "2024-03-02", "--to", "2024-03-01"], "is before"),
    (["today", "--from", "2024-03-01"], "takes no --from"),
    (["today", "--timezone", "Mars/Olympus"], "--timezone 'Mars/Olympus'"),
    (["report", "--from", "2000-01-01", "--to", "2030-01-01"], "more than"),
    (["today", "--person", "Nobody"], "Nobody"),
    (["report", "--from", "9999-12-31"], "give a day from 1900-01-01 to 9998-12-31"),
    (["report", "--from", "0001-01-01", "--to", "0001-01-05"], "--from 0001-01-01"),
])
def test_errors_are_one_line_and_exit_2(filled, capsys, argv, words):
    data, _ = filled
    code, out, err = run(capsys, "attendance", *argv, "--data", data)
    assert code == 2 and words in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_store_is_named(tmp_path, capsys):
    code, _, err = run(capsys, "attendance", "today", "--data", tmp_path / "nowhere")
    assert code == 2 and "nowhere" in err and "siamnet serve" in err
    assert not (tmp_path / "nowhere").exists()


def test_a_zero_byte_store_is_refused_not_rebuilt(tmp_path, capsys):
    data = tmp_path / "d"
    data.mkdir()
    (data / "siamnet.db").write_bytes(b"")
    code, _, err = run(capsys, "attendance", "today", "--data", str(data))
    assert code == 2 and "the store file is empty (0 bytes)" in err
    assert (data / "siamnet.db").stat().st_size == 0


def test_days_follow_the_time_zone():
    from zoneinfo import ZoneInfo

    from siamnet.service.attendance import day_bounds

    berlin = ZoneInfo("Europe/Berlin")
    start, end = day_bounds(date(2024, 3, 31), date(2024, 3, 31), berlin)  # DST starts
    assert start == datetime(2024, 3, 30, 23, tzinfo=timezone.utc)
    assert end - start == timedelta(hours=23)


def test_core_package_works_without_the_service_extra(tmp_path):
    """With fastapi/uvicorn absent, the CLI still builds and `serve` says what to install."""
    import subprocess
    import sys

    code = ("import sys\n"
            "for m in ('fastapi', 'uvicorn', 'starlette', 'multipart', 'python_multipart'):\n"
            "    sys.modules[m] = None\n"
            "from siamnet.cli import main\n"
            f"sys.exit(main(['serve', '--data', {str(tmp_path / 'd')!r}]))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "pip install 'siamnet[service]'" in r.stderr, r.stderr


def test_daily_counts_people_deleted_since_as_people():
    from datetime import date, datetime, timezone

    from siamnet.gallery.store import Event
    from siamnet.service.attendance import daily

    t = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
    events = [Event(1, t, "lobby", 7, "Ada", 0.3, "known", "m"),
              Event(2, t, "lobby", None, "Bob", 0.4, "known", "m"),  # Bob was deleted later
              Event(3, t, "lobby", None, None, 0.9, "unknown", "m")]
    rows = daily(events, date(2026, 11, 2), date(2026, 11, 2), timezone.utc)
    assert rows == [{"day": "2026-11-02", "people": 2, "events": 3, "unknown": 1}]
