"""One questioned signature against 5 enrolled references, two models interleaved in one process.

    OMP_NUM_THREADS=1 python benchmarks/time_signature_verify.py --data ../shared/datasets \
        --models signature,runs/signature/prev/signature [--rounds 3] [--runs 40]

The shared CPU's load moves more between runs than one model differs from another, so each round
times every model in turn (A B, then B A the next round) with :func:`bench_signatures.time_verify`
(read + preprocess + encode the questioned file, combine with 5 stored encodings), on BHSig writer
41's first six genuine signatures.  Prints one line per model and round (median and p95 ms) and
the load average.  A previous card: ``git show REV:src/siamnet/models/bundled/signature.json`` and
``.safetensors`` into a folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bench_signatures import time_verify  # noqa: E402
from siamnet.signatures.model import load_signature_model  # noqa: E402
from siamnet.signatures.collections import read_bhsig  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("SIAMNET_DATA", "../shared/datasets"))
    ap.add_argument("--models", default="signature", help="comma-separated bundled names or card paths")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    coll = read_bhsig(Path(args.data) / "bhsig260_bengali", writers={41})
    genuine = [str(Path(coll.root) / p) for p, f in zip(coll.paths, coll.forged) if not f][:6]
    models = [(name, load_signature_model(name)) for name in args.models.split(",")]
    for r in range(args.rounds):
        for name, model in (models if r % 2 == 0 else models[::-1]):
            t = time_verify(model, genuine[:5], genuine[5], args.runs)
            print(f"round {r + 1}  {name:40s} median {t['median_ms']:.1f} ms  p95 {t['p95_ms']:.1f} ms  "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
