"""fps of this tree's tracker against a base commit's, interleaved A B B A on the same decoded
frames, and the largest box difference between them (docs/tracking.md, "Speed engineering").

Two worker processes, each importing one tree's ``siamnet`` (A: ``git archive`` of ``--base``
unpacked into a temporary folder; B: this tree's ``src``), each with every sequence decoded
once and the bundled card loaded once; this process tells them in turn which sequence to track
at how many threads and collects boxes, confidences, lost flags and fps.  Only one worker runs
at a time, so both see the same CPU; on a shared CPU the load drifts, so the order is A B B A
per round and sequence, and each worker first tracks one sequence untimed (warm-up).

    PYTHONPATH=src python benchmarks/time_tracking_speedup.py --sequences ../shared/datasets/tracking \\
        --threads 1,2 --rounds 2

The fps is :class:`~siamnet.track.tracker.TrackResult`'s (init and every frame, frames decoded
beforehand), the figure ``siamnet track --json`` prints.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = "a26ce32"  # main before stop 21 (the speed engineering)


def worker() -> int:
    """One tree's tracker: read JSON commands from stdin, answer one JSON line each."""
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    import siamnet
    from siamnet.track import load_tracker
    from siamnet.track.frames import load_sequence

    cfg = json.loads(sys.stdin.readline())
    seqs = {n: load_sequence(Path(cfg["root"]) / n) for n in cfg["sequences"]}
    tracker = load_tracker(cfg.get("model", "tracker"))
    print(json.dumps({"ready": str(Path(siamnet.__file__).parent)}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("quit"):
            break
        torch.set_num_threads(cmd["threads"])
        cv2.setNumThreads(cmd["threads"])
        frames, gt = seqs[cmd["seq"]]
        r = tracker.track(frames, tuple(float(v) for v in gt[0]))
        print(json.dumps({"fps": r.fps, "frames": r.frames, "boxes": r.boxes, "confidence": r.confidence,
                          "lost": r.lost, "load": os.getloadavg()[0]}), flush=True)
    return 0


class Worker:
    def __init__(self, src: Path, root: Path, sequences: list[str], model: str):
        env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
        self.p = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker"], env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ready = self.ask({"root": str(root), "sequences": sequences, "model": model})["ready"]

    def ask(self, cmd: dict) -> dict:
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited (code {self.p.wait()})")
        return json.loads(line)

    def close(self) -> None:
        self.p.stdin.write(json.dumps({"quit": True}) + "\n")
        self.p.stdin.close()
        self.p.wait()


def box_diff(a: list, b: list) -> float:
    return max(abs(x - y) for ba, bb in zip(a, b) for x, y in zip(ba, bb))


def main(argv=None) -> int:
    if argv is None and sys.argv[1:2] == ["--worker"]:
        return worker()
    sys.stdout.reconfigure(line_buffering=True)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sequences", type=Path,
                   default=Path(os.environ.get("SIAMNET_DATA", "../shared/datasets")) / "tracking")
    p.add_argument("--only", help="comma-separated sequence names (default: every folder with img/)")
    p.add_argument("--base", default=BASE, help=f"git revision of run A (default {BASE})")
    p.add_argument("--base-src", type=Path, help="a src folder for run A instead of --base")
    p.add_argument("--model", default="tracker")
    p.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    p.add_argument("--rounds", type=int, default=1, help="each round runs A B B A per sequence")
    p.add_argument("--json", type=Path, help="write every run's fps and the differences here")
    p.add_argument("--verbose", action="store_true", help="print every run as it ends")
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else sorted(d.name for d in args.sequences.iterdir()
                                                           if (d / "img").is_dir())
    with tempfile.TemporaryDirectory() as tmp:
        base_src = args.base_src
        if base_src is None:
            tar = subprocess.run(["git", "-C", str(ROOT), "archive", args.base, "src"], check=True,
                                 capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=tar, check=True)
            base_src = Path(tmp) / "src"
        workers = {"A": Worker(base_src, args.sequences, names, args.model),
                   "B": Worker(ROOT / "src", args.sequences, names, args.model)}
        print(f"A: {args.base_src or args.base} ({workers['A'].ready})\nB: this tree ({workers['B'].ready})")
        for w in workers.values():
            w.ask({"seq": names[0], "threads": 1})  # warm-up, not counted
        out = {"base": str(args.base_src or args.base), "runs": []}
        try:
            for threads in [int(t) for t in args.threads.split(",")]:
                res = {n: {"A": [], "B": []} for n in names}
                loads = []
                for rnd in range(args.rounds):
                    for n in names:
                        for label in "ABBA":
                            r = workers[label].ask({"seq": n, "threads": threads})
                            res[n][label].append(r)
                            loads.append(r["load"])
                            out["runs"].append({"threads": threads, "round": rnd, "seq": n, "tree": label,
                                                "fps": r["fps"], "load": r["load"]})
                            if args.verbose:
                                print(f"  {threads} thread(s) {n} {label}: {r['fps']:.1f} fps, load {r['load']:.2f}",
                                      flush=True)
                print(f"\n{threads} thread(s), {args.rounds} round(s) of A B B A, load average "
                      f"{min(loads):.2f}-{max(loads):.2f}")
                print(f"{'sequence':<20} {'frames':>6} {'A fps':>14} {'B fps':>14} {'B/A':>5} "
                      f"{'max |box| B-A':>13} {'max |conf|':>10} {'lost A/B':>9} {'A-A':>5} {'B-B':>5}")
                ta = tb = nf = 0.0
                worst = 0.0
                for n in names:
                    a, b = res[n]["A"], res[n]["B"]
                    fa = [r["fps"] for r in a]
                    fb = [r["fps"] for r in b]
                    frames = a[0]["frames"]
                    ta += sum(frames / f for f in fa) / len(fa)
                    tb += sum(frames / f for f in fb) / len(fb)
                    nf += frames
                    d = box_diff(a[0]["boxes"], b[0]["boxes"])
                    worst = max(worst, d)
                    dc = max(abs(x - y) for x, y in zip(a[0]["confidence"], b[0]["confidence"]))
                    la, lb = sum(a[0]["lost"]), sum(b[0]["lost"])
                    same_lost = a[0]["lost"] == b[0]["lost"]
                    daa = max(box_diff(a[0]["boxes"], r["boxes"]) for r in a)
                    dbb = max(box_diff(b[0]["boxes"], r["boxes"]) for r in b)
                    fmt = lambda v: "/".join(f"{x:.1f}" for x in v)  # noqa: E731
                    ratio = (sum(fb) / len(fb)) / (sum(fa) / len(fa))
                    print(f"{n:<20} {frames:>6} {fmt(fa):>14} {fmt(fb):>14} {ratio:>5.2f} {d:>13.2e} {dc:>10.1e} "
                          f"{la:>4}/{lb:<3}{'' if same_lost else '!'} {daa:>5.0e} {dbb:>5.0e}")
                    out[f"{threads}:{n}"] = {"fps_a": fa, "fps_b": fb, "max_box_diff": d, "max_conf_diff": dc,
                                             "lost_a": la, "lost_b": lb, "same_lost": same_lost}
                print(f"{'all':<20} {int(nf):>6} {nf / ta:>14.1f} {nf / tb:>14.1f} {ta / tb:>5.2f} {worst:>13.2e}"
                      f"   (fps: frames / mean time per tree; B/A: the time ratio)")
                out[f"{threads}:all"] = {"fps_a": nf / ta, "fps_b": nf / tb, "ratio": ta / tb, "max_box_diff": worst,
                                         "load": [min(loads), max(loads)]}
        finally:
            for w in workers.values():
                w.close()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
