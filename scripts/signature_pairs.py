#!/usr/bin/env python
"""Write SigNet's per-writer pair lists (generic TSV, for ``siamnet pairs``) for the signature
model's validation writers — the same as ``siamnet signature-pairs``:

    python scripts/signature_pairs.py --data ../shared/datasets --out runs/signature/pairs
    siamnet pairs --model signature --pairs runs/signature/pairs/bhsig-val.tsv \
        --images ../shared/datasets/bhsig260_bengali

Files: bhsig-val.tsv (BHSig260 writers 41-50; every genuine-genuine pair, y=1, and every
genuine-skilled-forgery pair, y=0, of each writer), bhsig-val-random.tsv (random forgeries),
sign_data.tsv and sign_data-random.tsv (images root sign_data/).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siamnet.signatures.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["signature-pairs", *sys.argv[1:]]))
