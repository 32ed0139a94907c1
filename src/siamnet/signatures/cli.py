"""``siamnet signature-pairs``: write SigNet's per-writer pair lists for the signature model's
validation writers, in the generic TSV format ``siamnet pairs`` reads.

Wired into the command line with ``add_commands(subparsers)``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def write_validation_pairs(data: str | Path, out: str | Path, val_writers: str = "41-50") -> list[Path]:
    """bhsig-val.tsv, bhsig-val-random.tsv (images root: bhsig260_bengali/), sign_data.tsv and
    sign_data-random.tsv (images root: sign_data/) under ``out``."""
    from .collections import random_forgery_pairs, read_bhsig, read_sign_data, signet_pairs, write_pairs_tsv
    from .train import parse_range

    data, out = Path(data), Path(out)
    bh = read_bhsig(data / "bhsig260_bengali").of_writers(parse_range(val_writers))
    sd = read_sign_data(data / "sign_data")
    written = []
    for coll, stem, what in ((bh, "bhsig-val", f"BHSig260-Bengali writers {val_writers}"),
                             (sd, "sign_data", "sign_data (SigComp 2011 Dutch), 21 signers")):
        head = (f"{what}: SigNet per-writer protocol; paths relative to the images root {coll.root.name}/\n"
                "a<TAB>b<TAB>y, y=1 genuine-genuine of one writer, y=0 genuine vs skilled forgery of that writer")
        written.append(write_pairs_tsv(coll, signet_pairs(coll), out / f"{stem}.tsv", head))
        written.append(write_pairs_tsv(coll, random_forgery_pairs(coll, seed=0), out / f"{stem}-random.tsv",
                                       f"{what}: random forgeries (y=0: a writer's genuine vs another writer's "
                                       f"genuine signature), seed 0; images root {coll.root.name}/"))
    return written


def _run(args) -> int:
    for p in write_validation_pairs(args.data, args.out, args.val_writers):
        print(p)
    return 0


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("signature-pairs", help="write SigNet's per-writer pair lists of the signature "
                                                      "model's validation writers (TSV for `siamnet pairs`)")
    p.add_argument("--data", default=os.environ.get("SIAMNET_DATA", "../shared/datasets"),
                   help="folder holding bhsig260_bengali/ and sign_data/ ($SIAMNET_DATA)")
    p.add_argument("--val-writers", default="41-50", help="BHSig260 writers (default: the bundled model's 41-50)")
    p.add_argument("--out", default="runs/signature/pairs")
    p.set_defaults(func=_run)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="siamnet")
    sub = ap.add_subparsers(dest="command", required=True)
    add_commands(sub)
    args = ap.parse_args(argv)
    return args.func(args)
