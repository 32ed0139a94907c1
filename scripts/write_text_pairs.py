"""Write the text validation sets as generic pair lists (``text_a<TAB>text_b<TAB>y``) for
``siamnet pairs --model M --pairs FILE.tsv``: STS-B dev and test (graded 0..5) and the seeded
Quora validation split (1 duplicate / 0 not; seed 0, question groups kept whole).

    PYTHONPATH=src python scripts/write_text_pairs.py [--data ../shared/datasets] [--out runs/text-pairs]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siamnet.text.data import quora_splits, sts_splits, write_pairs_tsv  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="", help="datasets root (default $SIAMNET_DATA or ../shared/datasets)")
    ap.add_argument("--out", default="runs/text-pairs")
    ap.add_argument("--seed", type=int, default=0, help="the Quora split's seed (the models use 0)")
    args = ap.parse_args(argv)
    sts, quora = sts_splits(args.data or None), quora_splits(args.data or None, seed=args.seed)
    for name, pairs in {"stsb-dev.tsv": sts["dev"], "stsb-test.tsv": sts["test"],
                        "quora-validation.tsv": quora["validation"]}.items():
        path = write_pairs_tsv(pairs, Path(args.out) / name)
        print(f"{path}: {len(pairs)} pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
