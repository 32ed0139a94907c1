"""Weight-space interpolation between the shipped MiniLM and a LoRA fine-tune (Wortsman et al.
2022, "WiSE-FT"): the adapters' update is scaled by s (LoRA's α becomes s·α), which moves the
model part of the way back toward the pretrained one — often keeping most of the fine-tune's
gain on the training distribution and more of the base model's strength elsewhere.

For each s it measures, on validation data only, STS-B dev Spearman, the Quora validation
AUC/AP and retrieval recall@1 on the Quora validation bank (as bench_text.py builds it), and
chooses the s with the best mean of (STS-B dev ρ, Quora AP, R@1); that model's τ and P(same) are
re-calibrated on Quora validation, its STS-B test Spearman is measured once, and its card is
written to --out.

    PYTHONPATH=src python scripts/rescale_text_lora.py src/siamnet/models/bundled/questions.json \
        --scales 1.0 0.5 --out runs/questions-wise
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_text import retrieval_figures, retrieval_task  # noqa: E402

from siamnet.gallery.index import ExactIndex  # noqa: E402
from siamnet.text.data import quora_splits, sts_splits  # noqa: E402
from siamnet.text.metrics import binary_report, fit_logistic, spearman  # noqa: E402
from siamnet.text.model import TextModel  # noqa: E402


def pair_sim(m, pairs):
    uniq = sorted({t for p in pairs for t in (p.a, p.b)})
    e = m.encode(uniq)
    pos = {t: i for i, t in enumerate(uniq)}
    return np.array([float(e[pos[p.a]] @ e[pos[p.b]]) for p in pairs])


def main(argv=None) -> int:
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("card", type=Path)
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.5])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    card = json.loads(args.card.read_text())
    weights = args.card.with_suffix(".safetensors")
    sts, val = sts_splits(), quora_splits(seed=0)["validation"]
    bank, queries, gold = retrieval_task(val)
    y = np.array([p.y for p in val])
    rows = []
    for s in args.scales:
        c = json.loads(json.dumps(card))
        c["encoder_args"]["lora"]["alpha"] = card["encoder_args"]["lora"]["alpha"] * s
        m = TextModel(c, weights)
        dev = spearman(pair_sim(m, sts["dev"]), [p.y for p in sts["dev"]])
        qs = pair_sim(m, val)
        q = binary_report(qs, y)
        index = ExactIndex().build(m.encode(bank), np.arange(len(bank)))
        _, ranked = index.search(m.encode(queries), 10)
        r = retrieval_figures(ranked, gold)
        row = {"scale": s, "stsb_dev_spearman": dev, "quora_validation_auc": q["auc"],
               "quora_validation_ap": q["average_precision"], "quora_validation_accuracy": q["accuracy"],
               "quora_bank_recall@1": r["recall@1"], "quora_bank_mrr@10": r["mrr@10"],
               "threshold": q["threshold"], "selection": (dev + q["average_precision"] + r["recall@1"]) / 3}
        row["logistic"] = fit_logistic(1.0 - qs, y)
        rows.append((row, c, m))
        print(json.dumps(row), flush=True)
    row, c, m = max(rows, key=lambda t: t[0]["selection"])
    test = spearman(pair_sim(m, sts["test"]), [p.y for p in sts["test"]])
    print(f"chosen scale {row['scale']}: STS-B test Spearman {test:.4f}", flush=True)
    a, b = row["logistic"]
    c["threshold"] = row["threshold"]
    c["threshold_source"] = (f"best accuracy on the Quora validation split (seed 0, {len(val)} pairs, "
                             f"accuracy {row['quora_validation_accuracy']:.4f})")
    c["probability"] = {"kind": "logistic", "a": a, "b": b,
                        "source": "fit on the Quora validation split's cosine distances"}
    c["metrics"] = {**{k: row[k] for k in ("stsb_dev_spearman", "quora_validation_auc", "quora_validation_ap",
                                           "quora_validation_accuracy", "quora_bank_recall@1", "quora_bank_mrr@10")},
                    "stsb_test_spearman": test, "note": card["metrics"].get("note", ""),
                    "lora_scale": {"chosen": row["scale"], "candidates": [r[0] for r in rows],
                                   "rule": "best mean of STS-B dev ρ, Quora validation AP and Quora-bank R@1",
                                   "command": "python scripts/rescale_text_lora.py " + " ".join(argv or sys.argv[1:]),
                                   "as_trained": card["metrics"]}}
    args.out.mkdir(parents=True, exist_ok=True)
    name = c["name"]
    shutil.copy(weights, args.out / f"{name}.safetensors")
    (args.out / f"{name}.json").write_text(json.dumps(c, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out / name}.json", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
