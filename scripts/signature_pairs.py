#!/usr/bin/env python
"""Write SigNet's per-writer pair lists (generic TSV, for ``siamnet pairs``) for the signature
model's validation writers: every genuine–genuine pair (1) and every genuine–skilled-forgery
pair (0) of each writer; optionally random forgeries (another writer's genuine signature, 0).

    python scripts/signature_pairs.py --data ../shared/datasets --out runs/signature/pairs
    siamnet pairs --model signature --pairs runs/signature/pairs/bhsig-val.tsv \
        --images ../shared/datasets/bhsig260_bengali

Files: bhsig-val.tsv (BHSig260 writers 41-50; images root bhsig260_bengali/),
bhsig-val-random.tsv, sign_data.tsv and sign_data-random.tsv (images root sign_data/).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siamnet.signatures.collections import (random_forgery_pairs, read_bhsig, read_sign_data,  # noqa: E402
                                            signet_pairs, write_pairs_tsv)
from siamnet.signatures.train import parse_range  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("SIAMNET_DATA", "../shared/datasets"))
    ap.add_argument("--val-writers", default="41-50")
    ap.add_argument("--out", default="runs/signature/pairs")
    args = ap.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    bh = read_bhsig(data / "bhsig260_bengali").of_writers(parse_range(args.val_writers))
    sd = read_sign_data(data / "sign_data")
    for coll, stem, what in ((bh, "bhsig-val", f"BHSig260-Bengali writers {args.val_writers}"),
                             (sd, "sign_data", "sign_data (SigComp 2011 Dutch), 21 signers")):
        head = (f"{what}: SigNet per-writer protocol; paths relative to the images root {coll.root.name}/\n"
                "a<TAB>b<TAB>y, y=1 genuine-genuine of one writer, y=0 genuine vs skilled forgery of that writer")
        p = write_pairs_tsv(coll, signet_pairs(coll), out / f"{stem}.tsv", head)
        r = write_pairs_tsv(coll, random_forgery_pairs(coll, seed=0), out / f"{stem}-random.tsv",
                            f"{what}: random forgeries (y=0: a writer's genuine vs another writer's genuine), seed 0")
        print(p, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
