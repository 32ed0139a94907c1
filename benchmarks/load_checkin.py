"""Load on the check-in route: many kiosk clients against a real ``siamnet serve`` on loopback.

    python benchmarks/load_checkin.py                      # 50 clients for 60 s
    python benchmarks/load_checkin.py --clients 10 --seconds 5 --people 3

Starts the service (a subprocess: ``python -m siamnet serve``) on a free loopback port with a
temporary data folder, enrolls ``--people`` people from real face photos
(``$SIAMNET_DATA/celeba_faces``), then runs ``--clients`` concurrent kiosk clients, each posting
real photos (enrolled people's other photos and strangers') to ``/api/checkin`` in a loop for
``--seconds``.  Prints a table and, as the last line, one JSON object: requests, answers by
status, server errors (5xx and broken connections: must be 0), throughput, latency p50/p90/p99.
Exit status 1 when there was any server error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """``python -m siamnet serve`` in a subprocess on 127.0.0.1: start, wait until healthy, read
    its tokens, stop (SIGTERM) or kill (SIGKILL)."""

    def __init__(self, data: Path, port: int | None = None, db: str | None = None,
                 extra: list[str] | None = None, log: Path | None = None):
        self.data, self.db = Path(data), db
        self.port = port or free_port()
        self.extra = list(extra or [])
        self.log = Path(log) if log else self.data.parent / f"{self.data.name}-serve.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> "ServiceProcess":
        import httpx

        cmd = [sys.executable, "-m", "siamnet", "serve", "--data", str(self.data), "--port",
               str(self.port), "--no-access-log", "--log-level", "warning", *self.extra]
        if self.db:
            cmd += ["--db", self.db]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"),
                                                          env.get("PYTHONPATH")]))
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._logf, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"siamnet serve exited with {self.proc.returncode}:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"siamnet serve did not answer within {timeout:.0f} s")

    def tokens(self) -> dict[str, str]:
        out = {}
        for line in (self.data / "tokens.txt").read_text().splitlines():
            role, sep, token = line.partition(": ")
            if sep and not line.startswith("#"):
                out[role.strip()] = token.strip()
        return out

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_log()

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing — a power cut for the process."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        f = getattr(self, "_logf", None)
        if f is not None and not f.closed:
            f.close()


def pick_photos(celeba: Path, identities: int, per_identity: int) -> dict[str, list[Path]]:
    flagged = set()
    qa = celeba / "qa_flags.tsv"
    if qa.is_file():
        flagged = {ln.split("\t")[0] for ln in qa.read_text().splitlines()[1:] if ln.strip()}
    chosen = {}
    for ident in sorted(p for p in celeba.iterdir() if p.is_dir()):
        files = [f for f in sorted(ident.glob("*.jpg")) if f.name not in flagged]
        if len(files) >= per_identity:
            chosen[ident.name] = files[:per_identity]
        if len(chosen) == identities:
            break
    if len(chosen) < identities:
        raise SystemExit(f"{celeba}: fewer than {identities} identities with {per_identity} photos")
    return chosen


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


async def run_clients(url: str, token: str, probes: list[tuple[str, bytes]], clients: int,
                      seconds: float, seed: int = 0) -> dict:
    import httpx

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    answers: dict[str, int] = {}
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(i: int, http: httpx.AsyncClient) -> None:
        rng = random.Random(seed * 1000 + i)
        while time.monotonic() < deadline:
            name, data = rng.choice(probes)
            t0 = time.perf_counter()
            try:
                r = await http.post(url + "/api/checkin", headers={"Authorization": f"Bearer {token}"},
                                    files={"image": (name, data, "image/jpeg")},
                                    data={"kiosk": f"kiosk-{i % 10}"})
            except httpx.HTTPError as exc:
                statuses["transport error"] = statuses.get("transport error", 0) + 1
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            latencies.append(time.perf_counter() - t0)
            key = str(r.status_code)
            statuses[key] = statuses.get(key, 0) + 1
            if r.status_code == 200:
                status = r.json().get("status", "?")
                answers[status] = answers.get(status, 0) + 1
            elif len(errors) < 20:
                errors.append(f"{r.status_code}: {r.text[:200]}")

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0), limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    elapsed = time.perf_counter() - start
    lat = sorted(latencies)
    requests = sum(statuses.values())
    server_errors = sum(n for s, n in statuses.items() if s.startswith("5") or s == "transport error")
    return {
        "clients": clients, "seconds": round(elapsed, 2), "requests": requests,
        "ok": statuses.get("200", 0),
        "client_errors": sum(n for s, n in statuses.items() if s.startswith("4")),
        "server_errors": server_errors, "statuses": statuses, "answers": answers,
        "throughput_rps": round(requests / elapsed, 2) if elapsed else 0.0,
        "latency_ms": {k: round(1000 * percentile(lat, q), 1)
                       for k, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
        "errors_sample": errors[:5],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--people", type=int, default=5, help="people enrolled (2 photos each)")
    ap.add_argument("--strangers", type=int, default=3, help="identities never enrolled")
    ap.add_argument("--photos", help="celeba_faces folder (default: $SIAMNET_DATA/celeba_faces)")
    ap.add_argument("--cooldown", type=float, default=60.0)
    ap.add_argument("--workers", type=int, help="the service's face threads (default: its own)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import httpx

    root = Path(args.photos) if args.photos else Path(
        os.environ.get("SIAMNET_DATA") or REPO.parent / "shared" / "datasets") / "celeba_faces"
    if not root.is_dir():
        print(f"load_checkin: {root}: photo folder not found (set SIAMNET_DATA or --photos)",
              file=sys.stderr)
        return 2
    chosen = pick_photos(root, args.people + args.strangers, 4)
    idents = list(chosen)
    enrolled, strangers = idents[:args.people], idents[args.people:]
    probes = [(p.name, p.read_bytes()) for i in enrolled for p in chosen[i][2:]]
    probes += [(p.name, p.read_bytes()) for i in strangers for p in chosen[i][:2]]

    extra = ["--cooldown", str(args.cooldown)]
    if args.workers:
        extra += ["--workers", str(args.workers)]
    with tempfile.TemporaryDirectory(prefix="siamnet-load-") as tmp:
        svc = ServiceProcess(Path(tmp) / "data", extra=extra, log=Path(tmp) / "serve.log")
        t0 = time.perf_counter()
        svc.start()
        startup = time.perf_counter() - t0
        try:
            tokens = svc.tokens()
            admin = {"Authorization": f"Bearer {tokens['admin']}"}
            for n, ident in enumerate(enrolled):
                files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in chosen[ident][:2]]
                r = httpx.post(svc.url + "/api/people", data={"name": f"Person {n}"}, files=files,
                               headers=admin, timeout=120)
                if r.status_code != 201:
                    print(f"load_checkin: enrolling {ident} failed: {r.status_code} {r.text}",
                          file=sys.stderr)
                    return 2
            res = asyncio.run(run_clients(svc.url, tokens["kiosk"], probes, args.clients,
                                          args.seconds, args.seed))
            alive = svc.proc.poll() is None
            serve_log = svc.log.read_text(errors="replace")
        finally:
            svc.stop()
    res.update(startup_s=round(startup, 2), people=args.people, probes=len(probes),
               cpus=os.cpu_count(), service_alive_after=alive,
               tracebacks_in_log=serve_log.count("Traceback"))
    lat = res["latency_ms"]
    rows = [("clients", res["clients"]), ("duration", f"{res['seconds']} s"),
            ("requests", res["requests"]), ("200 OK", res["ok"]),
            ("4xx", res["client_errors"]), ("server errors (5xx, broken)", res["server_errors"]),
            ("answers", ", ".join(f"{k} {v}" for k, v in sorted(res["answers"].items()))),
            ("throughput", f"{res['throughput_rps']} check-ins/s"),
            ("latency p50 / p90 / p99 / max", f"{lat['p50']} / {lat['p90']} / {lat['p99']} / "
                                              f"{lat['max']} ms"),
            ("service startup", f"{res['startup_s']} s"), ("CPU cores", res["cpus"])]
    for label, value in rows:
        print(f"{label:>30}  {value}")
    print(json.dumps(res))
    return 0 if res["server_errors"] == 0 and alive and res["requests"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
