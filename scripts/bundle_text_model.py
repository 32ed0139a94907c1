"""Copy a trained text model (runs/NAME/NAME.{json,safetensors}) into
src/siamnet/models/bundled/, optionally storing its tensors as float16 — only after checking
on STS-B dev and the Quora validation split that float16 changes no figure by more than
--tolerance (the check is recorded in the card, under metrics.float16_check).

    PYTHONPATH=src python scripts/bundle_text_model.py runs/questions-small/questions-small.json --fp16
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from safetensors.torch import load_file, save_file  # noqa: E402

from siamnet.text.data import quora_splits, sts_splits  # noqa: E402
from siamnet.text.metrics import binary_report, spearman  # noqa: E402
from siamnet.text.model import BUNDLED, load_text_model  # noqa: E402


def figures(card_path: Path) -> dict:
    m = load_text_model(card_path)
    dev, q = sts_splits()["dev"], quora_splits(seed=0)["validation"]
    a, b = m.encode([p.a for p in dev]), m.encode([p.b for p in dev])
    qa, qb = m.encode([p.a for p in q]), m.encode([p.b for p in q])
    return {"stsb_dev_spearman": spearman((a * b).sum(1), [p.y for p in dev]),
            "quora_validation_auc": binary_report((qa * qb).sum(1), [p.y for p in q])["auc"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("card", type=Path)
    ap.add_argument("--fp16", action="store_true")
    ap.add_argument("--tolerance", type=float, default=1e-3)
    args = ap.parse_args(argv)
    card = json.loads(args.card.read_text())
    state = load_file(str(args.card.with_suffix(".safetensors")))
    name = card["name"]
    if args.fp16:
        with tempfile.TemporaryDirectory() as tmp:
            half = Path(tmp) / f"{name}.json"
            half.write_text(json.dumps(card))
            save_file({k: v.half().contiguous() for k, v in state.items()}, str(half.with_suffix(".safetensors")))
            full, low = figures(args.card), figures(half)
        worst = max(abs(full[k] - low[k]) for k in full)
        if worst > args.tolerance:
            print(f"float16 changes a figure by {worst:.5f} (> {args.tolerance}); not bundled", file=sys.stderr)
            return 1
        state = {k: v.half().contiguous() for k, v in state.items()}
        card["weights_dtype"] = "float16"
        card.setdefault("metrics", {})["float16_check"] = {"float32": full, "float16": low,
                                                           "largest_change": worst}
    card["bundle_command"] = "python scripts/bundle_text_model.py " + " ".join(argv or sys.argv[1:])
    BUNDLED.mkdir(parents=True, exist_ok=True)
    save_file(state, str(BUNDLED / f"{name}.safetensors"))
    (BUNDLED / f"{name}.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    print(f"bundled {name}: {(BUNDLED / f'{name}.safetensors').stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
