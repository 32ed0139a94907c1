"""Attendance from the recorded check-in events: by day, per person, as CSV, and per-day counts.

Days are calendar days in the service's time zone; a day ``d`` covers the UTC instants from
local midnight of ``d`` to local midnight of ``d + 1`` (23 or 25 hours across a DST change).
Used by the HTTP service and by ``siamnet attendance`` (which needs no server).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from siamnet.errors import SiamnetError

MAX_DAYS = 3660  # one query spans at most ~10 years

CSV_COLUMNS = ["time", "local_time", "day", "kiosk", "decision", "name", "person_id",
               "distance", "model", "event_id"]


#: the days a query may name: wide enough for any record, narrow enough that a day's bounds in
#: any time zone stay inside what datetime, SQLite and PostgreSQL can hold
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)


class RangeError(SiamnetError):
    """A day or range of days that cannot be asked for (HTTP 422)."""


def parse_day(text: str | None, what: str) -> date | None:
    if text is None or text == "":
        return None
    raw = str(text).strip()
    try:
        if len(raw) != 10:  # date.fromisoformat also takes 20250303 and 2025-W10-1
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise RangeError(f"{what} {shown!r}: not a date (expected YYYY-MM-DD)") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise RangeError(f"{what} {day}: give a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def today(tz: tzinfo) -> date:
    return datetime.now(tz).date()


def day_bounds(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC covering the local days ``first``..``last`` (inclusive)."""
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(timezone.utc)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(timezone.utc)
    return start, end


def resolve_range(day: str | None, start: str | None, end: str | None, tz: tzinfo,
                  names=("day", "from", "to")) -> tuple[date, date]:
    """The inclusive day range asked for: ``day``, or ``from``..``to`` (either may be left out:
    it defaults to the other, or to today), validated."""
    d = parse_day(day, names[0])
    f, t = parse_day(start, names[1]), parse_day(end, names[2])
    if d is not None:
        if f is not None or t is not None:
            raise RangeError(f"give either {names[0]} or {names[1]}/{names[2]}, not both")
        return d, d
    if f is None and t is None:
        f = t = today(tz)
    f = f or t
    t = t or f
    if t < f:
        raise RangeError(f"{names[2]} {t} is before {names[1]} {f}")
    if (t - f).days >= MAX_DAYS:
        raise RangeError(f"{names[1]} {f} to {names[2]} {t}: more than {MAX_DAYS} days")
    return f, t


def events_between(store, first: date, last: date, tz: tzinfo, person: str | None = None,
                   kiosk: str | None = None) -> list:
    start, end = day_bounds(first, last, tz)
    return list(store.events(start, end, person=person, kiosk=kiosk))


def local_time(event, tz: tzinfo) -> datetime:
    t = event.time if event.time.tzinfo else event.time.replace(tzinfo=timezone.utc)
    return t.astimezone(tz)


def event_dict(event, tz: tzinfo) -> dict:
    """An event for the API: the store's fields plus the local time and day."""
    d = event.to_dict()
    t = local_time(event, tz)
    d["time"] = event.time.astimezone(timezone.utc).isoformat()
    d["local_time"] = t.isoformat()
    d["day"] = t.date().isoformat()
    return d


def _cell(value) -> str:
    """A CSV cell that no spreadsheet runs as a formula (names are typed by people)."""
    if value is None:
        return ""
    text = f"{value:.6f}" if isinstance(value, float) else str(value)
    if text and text[0] in "=+-@\t\r" and not _is_number(text):
        text = "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def events_csv(events, tz: tzinfo) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for e in events:
        d = event_dict(e, tz)
        d["event_id"] = d.get("id")
        w.writerow([_cell(d.get(c)) for c in CSV_COLUMNS])
    return out.getvalue()


def daily(events, first: date, last: date, tz: tzinfo) -> list[dict]:
    """One row per day (every day of the range, empty ones too): distinct known people (people
    deleted since included), events, unknown faces."""
    people: dict[date, set] = defaultdict(set)
    counts: dict[date, int] = defaultdict(int)
    unknown: dict[date, int] = defaultdict(int)
    for e in events:
        day = local_time(e, tz).date()
        counts[day] += 1
        if e.decision == "known":
            # a person deleted since keeps their past check-ins (person_id is then NULL): count by name
            people[day].add(e.person_id if e.person_id is not None else ("deleted", e.name))
        else:
            unknown[day] += 1
    rows, day = [], first
    while day <= last:
        rows.append({"day": day.isoformat(), "people": len(people[day]), "events": counts[day],
                     "unknown": unknown[day]})
        day += timedelta(days=1)
    return rows


def presence(events, tz: tzinfo) -> list[dict]:
    """Who was there each day: day, name, first and last check-in (local), number of check-ins."""
    rows: dict[tuple, dict] = {}
    for e in sorted(events, key=lambda e: e.time):
        if e.decision != "known":
            continue
        t = local_time(e, tz)
        key = (t.date(), e.person_id)
        row = rows.get(key)
        if row is None:
            rows[key] = {"day": t.date().isoformat(), "name": e.name, "person_id": e.person_id,
                         "first": t.isoformat(timespec="seconds"),
                         "last": t.isoformat(timespec="seconds"), "checkins": 1}
        else:
            row["last"] = t.isoformat(timespec="seconds")
            row["checkins"] += 1
    return sorted(rows.values(), key=lambda r: (r["day"], r["first"]))
