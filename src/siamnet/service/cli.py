"""``siamnet serve`` (the attendance service) and ``siamnet attendance`` (reports without it).

:func:`add_commands` adds both to the main parser (``siamnet.cli``).  FastAPI and uvicorn load
only when ``serve`` runs; ``attendance`` needs only the store.
"""

from __future__ import annotations

import json
import sys

from siamnet.errors import SiamnetError


def _settings(args):
    from siamnet.service.settings import Settings, default_data_folder

    fields = dict(data=args.data or default_data_folder(), db=args.db)
    for key in ("model", "threshold", "host", "port", "cooldown", "timezone", "keep_photos",
                "workers"):
        value = getattr(args, key, None)
        if value is not None:
            fields[key] = value
    if getattr(args, "max_upload_mb", None) is not None:
        fields["max_upload_bytes"] = int(args.max_upload_mb * 1024 * 1024)
    if getattr(args, "max_megapixels", None) is not None:
        fields["max_pixels"] = int(args.max_megapixels * 1_000_000)
    return Settings(**fields).checked()


# -- serve ---------------------------------------------------------------------------------


def cmd_serve(args) -> int:
    settings = _settings(args)
    try:
        import uvicorn
    except ImportError:
        raise SiamnetError("siamnet serve needs uvicorn and fastapi: "
                           "pip install 'siamnet[service]'") from None
    from siamnet.service import create_app
    from siamnet.service.auth import ensure_tokens

    check_port(settings.host, settings.port)  # before any token is made or printed
    _limit_torch_threads(settings.workers)
    app = _start(lambda: create_app(settings), "open the store and load the face model")
    svc = app.state.service
    print("loading the face model on every worker thread…", flush=True)
    _start(svc.warm_up, "load the face model")
    tokens = app.state.first_tokens
    if args.reset_tokens and tokens is None:
        tokens = ensure_tokens(svc.store, settings.tokens_file, reset=True)
        svc.tokens = type(svc.tokens).from_store(svc.store)
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{shown_host}:{settings.port}"
    print(f"siamnet attendance service: {url}/kiosk (kiosk), {url}/admin (admin), {url}/docs (API)")
    print(f"store: {settings.store_kind} {_shown_db(settings)}; model {svc.model.name} "
          f"(τ {svc.gallery.threshold:.4f}); cooldown {settings.cooldown:g} s")
    if tokens:
        print(f"new tokens (shown once; also written to {settings.tokens_file}, mode 0600):")
        for role, token in tokens.items():
            print(f"  {role}: {token}")
    elif settings.tokens_file.is_file():
        print(f"tokens: see {settings.tokens_file} (siamnet serve --reset-tokens makes new ones)")
    else:
        print("tokens: made on first start (siamnet serve --reset-tokens makes new ones)")
    sys.stdout.flush()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level,
                access_log=not args.no_access_log)
    return 0


def check_port(host: str, port: int) -> None:
    """One clear line when ``host:port`` cannot be listened on (in use, or not ours to take),
    instead of uvicorn's error after the tokens were printed."""
    import errno
    import socket

    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SiamnetError(f"--host {host}: not an address this machine can listen on "
                           f"({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SiamnetError(f"--port {port}: {host}:{port} is already in use (another "
                                   "siamnet serve?); stop it, or choose another port with "
                                   "--port") from None
            raise SiamnetError(f"--host {host} --port {port}: cannot listen there "
                               f"({exc.strerror or 'refused'})") from None


def _start(step, what: str):
    """``step()``; a failure that is not already one clear message becomes one (no traceback
    when, say, a row of the store is damaged)."""
    try:
        return step()
    except SiamnetError:
        raise
    except Exception as exc:  # noqa: BLE001 - the start of a server: say what failed, plainly
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "no detail"
        raise SiamnetError(f"cannot {what}: {detail}") from None


def _shown_db(settings) -> str:
    from siamnet.gallery.store import redact_url

    return redact_url(settings.db_url)


def _limit_torch_threads(workers: int) -> None:
    """Each face thread runs the encoder: split the cores between them, not multiply them."""
    import os

    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, workers)))


# -- attendance ----------------------------------------------------------------------------


def _open_existing(settings):
    from siamnet.gallery.store import open_store

    if settings.store_kind == "sqlite" and not __import__("pathlib").Path(settings.db_url).is_file():
        raise SiamnetError(f"{settings.db_url}: no attendance store here (start one with "
                           f"`siamnet serve --data {settings.data}`, or give --data/--db)")
    if settings.store_kind == "sqlite":
        from siamnet.service.settings import check_store_file

        check_store_file(__import__("pathlib").Path(settings.db_url))
    return open_store(settings.db_url, create_folder=False)


def cmd_attendance(args) -> int:
    from siamnet.service import attendance as att

    settings = _settings(args)
    tz = settings.tz
    if args.what == "today":
        if args.start or args.end:
            raise SiamnetError("attendance today takes no --from/--to (use attendance report)")
        first = last = att.today(tz)
    else:
        first, last = att.resolve_range(None, args.start, args.end, tz,
                                        names=("day", "--from", "--to"))
    with _open_existing(settings) as store:
        events = att.events_between(store, first, last, tz, person=args.person)
    if args.csv:
        sys.stdout.write(att.events_csv(events, tz))
        return 0
    rows = att.presence(events, tz)
    days = att.daily(events, first, last, tz)
    if args.json:
        print(json.dumps({"from": first.isoformat(), "to": last.isoformat(), "presence": rows,
                          "daily": days, "events": len(events)}))
        return 0
    span = str(first) if first == last else f"{first} to {last}"
    unknown = sum(d["unknown"] for d in days)
    print(f"attendance {span} ({settings.timezone or 'local time'}): {len(events)} check-ins, "
          f"{unknown} unknown")
    if not rows:
        print("nobody checked in")
        return 0
    w = max(len("name"), *(len(r["name"] or "") for r in rows))
    print(f"{'day':<10}  {'name':<{w}}  {'first':<8}  {'last':<8}  {'check-ins':>9}")
    for r in rows:
        print(f"{r['day']:<10}  {r['name']:<{w}}  {r['first'][11:19]:<8}  {r['last'][11:19]:<8}  "
              f"{r['checkins']:>9}")
    if first != last:
        print()
        print(f"{'day':<10}  {'people':>6}  {'events':>6}")
        for d in days:
            print(f"{d['day']:<10}  {d['people']:>6}  {d['events']:>6}")
    return 0


# -- parser --------------------------------------------------------------------------------


def _store_options(p) -> None:
    p.add_argument("--data", help="data folder holding siamnet.db and tokens.txt (default: "
                                  "$SIAMNET_HOME or ~/.local/share/siamnet)")
    p.add_argument("--db", help="store URL: an SQLite file path or postgresql://user@host/db "
                                "(default: DATA/siamnet.db)")
    p.add_argument("--timezone", help="time zone of the calendar days, e.g. Europe/Berlin "
                                      "(default: the machine's)")


def add_commands(sub) -> None:
    s = sub.add_parser("serve", help="run the attendance service (kiosk and admin pages, HTTP API)")
    _store_options(s)
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--model", default="dlib-resnet", help="face model: bundled name or card .json")
    s.add_argument("--threshold", type=float, help="τ for identification (default: the card's)")
    s.add_argument("--cooldown", type=float, default=60.0,
                   help="seconds during which a person is recorded once per kiosk (default 60)")
    s.add_argument("--keep-photos", action="store_true", help="keep enrollment photos in the store")
    s.add_argument("--max-upload-mb", type=float, help="largest accepted image file (default 10)")
    s.add_argument("--max-megapixels", type=float, help="largest accepted image (default 40)")
    s.add_argument("--workers", type=int, help="threads doing face work (default: the cores, ≤ 4)")
    s.add_argument("--reset-tokens", action="store_true",
                   help="replace all tokens with a new admin and kiosk token (printed once)")
    s.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info",
                                                            "debug"])
    s.add_argument("--no-access-log", action="store_true")
    s.set_defaults(func=cmd_serve)

    a = sub.add_parser("attendance", help="attendance from the store, without the server")
    a.add_argument("what", choices=["today", "report"],
                   help="today: who checked in today; report: a range of days (--from/--to)")
    _store_options(a)
    a.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: today)")
    a.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: --from)")
    a.add_argument("--person", help="only this person (name)")
    a.add_argument("--csv", action="store_true", help="print every event as CSV")
    a.add_argument("--json", action="store_true", help="one JSON object")
    a.set_defaults(func=cmd_attendance)

