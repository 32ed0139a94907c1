"""Signature verification figures of the literature, on writer-disjoint validation writers.

    python benchmarks/bench_signatures.py [--model signature] [--data ../shared/datasets]
        [--out runs/signature/bench] [--repeats 10] [--threads 1]

Validation sets (never trained on): BHSig260-Bengali writers of the card's validation split
(41-50), and sign_data (SigComp 2011, Dutch: a script the model never saw).  Every image is
read through the model's ``signature`` kind from its file, as a user's scan would be.

Writer-independent (one global threshold, SigNet's per-writer pairs: every genuine–genuine and
every genuine–skilled-forgery pair of each writer):

* EER (equal error rate), AUC;
* at the card's τ: FRR (genuine rejected), FAR on skilled forgeries, FAR on random forgeries
  (a writer's genuine signature against another writer's genuine one), accuracy.

Writer-dependent (enroll K = 1, 3, 5 genuine references per writer, drawn ``--repeats`` times;
question the writer's remaining genuine signatures and all its skilled forgeries), for each
way of combining K distances (:mod:`siamnet.signatures.verify`: nearest, mean, centroid):
EER with one global threshold, and FRR / FAR-skilled at the card's τ.

Also: an ROC plot (``roc.png``), the hardest mistakes (``mistakes.png``: reference beside
questioned signature, with d and P(genuine)), and the time to verify one questioned signature
file against 5 enrolled references (read + preprocess + encode + combine; references already
enrolled, as in a gallery).  Prints a table, writes ``bench.json``, and prints the JSON last.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from siamnet.evaluate.verification import auc, equal_error_rate, plot_roc, roc_curve, save_figure  # noqa: E402
from siamnet.signatures.collections import random_forgery_pairs, read_bhsig, read_sign_data, signet_pairs  # noqa: E402
from siamnet.signatures.model import load_signature_model  # noqa: E402
from siamnet.signatures.train import parse_range  # noqa: E402
from siamnet.signatures.verify import RULES, enrolment_trials, threshold_for, verify_against  # noqa: E402


def rates(d: np.ndarray, same: np.ndarray, tau: float) -> dict:
    fpr, tpr, _ = roc_curve(-d, same)
    return {"eer": equal_error_rate(fpr, tpr), "auc": auc(fpr, tpr),
            "frr": float(np.mean(d[same] >= tau)), "far": float(np.mean(d[~same] < tau)),
            "genuine": int(same.sum()), "impostor": int((~same).sum())}


def writer_independent(model, coll, e: np.ndarray) -> tuple[dict, dict]:
    tau = model.threshold
    sk = np.array(signet_pairs(coll))
    rf = np.array(random_forgery_pairs(coll, seed=0))
    d_sk = model.distance(e[sk[:, 0]], e[sk[:, 1]])
    d_rf = model.distance(e[rf[:, 0]], e[rf[:, 1]])
    same = sk[:, 2] == 1
    r = rates(d_sk, same, tau)
    d_gen = d_sk[same]
    rr = rates(np.r_[d_gen, d_rf], np.r_[np.ones(len(d_gen), bool), np.zeros(len(d_rf), bool)], tau)
    out = {"pairs": int(len(sk)), "genuine_pairs": int(same.sum()), "skilled_pairs": int((~same).sum()),
           "random_pairs": int(len(rf)), "eer": r["eer"], "auc": r["auc"], "frr": r["frr"],
           "far_skilled": r["far"], "far_random": float(np.mean(d_rf < tau)), "eer_random": rr["eer"],
           "accuracy": float(np.mean((d_sk < tau) == same))}
    curves = {"skilled": roc_curve(-d_sk, same)[:2], "random": roc_curve(-np.r_[d_gen, d_rf], np.r_[
        np.ones(len(d_gen), bool), np.zeros(len(d_rf), bool)])[:2]}
    mistakes = {"pairs": sk, "d": d_sk, "same": same}
    return out, {"curves": curves, "mistakes": mistakes}


def writer_dependent(model, coll, e: np.ndarray, ks=(1, 3, 5), repeats: int = 10, seed: int = 0) -> dict:
    """Enroll K genuine references per writer; question the remaining genuine and all skilled forgeries.
    FRR / FAR at the card's 1:1 τ, and at its per-rule, per-K τ (``*_k``) where the card has them."""
    out = {}
    for k in ks:
        scores, y = enrolment_trials(coll.writers, coll.forged, e, k, repeats, seed + k)
        out[f"K={k}"] = {}
        for r in RULES:
            row = rates(scores[r], y, model.threshold)
            tau_k = threshold_for(model.card, r, k)
            row.update(tau_k=tau_k, frr_k=float(np.mean(scores[r][y] >= tau_k)), far_k=float(np.mean(scores[r][~y] < tau_k)))
            out[f"K={k}"][r] = row
        out[f"K={k}"]["questions"] = int(len(y))
    return out


def time_verify(model, refs_paths, questioned_path, n: int = 50) -> dict:
    refs = model.encode(refs_paths)  # enrolled once, as a gallery stores them
    rule_card = model.card.get("combination", {}).get("rule", "mean")
    tau = threshold_for(model.card, rule_card, len(refs_paths))
    for _ in range(3):
        verify_against(refs, model.encode([questioned_path])[0], tau, model.card.get("probability"), rule_card)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        verify_against(refs, model.encode([questioned_path])[0], tau, model.card.get("probability"), rule_card)
        times.append(time.perf_counter() - t)
    t = np.array(times) * 1000
    return {"references": len(refs_paths), "runs": n, "median_ms": float(np.median(t)), "p95_ms": float(np.percentile(t, 95)),
            "threads": torch.get_num_threads(), "what": "read + preprocess + encode 1 questioned file, combine with 5 stored encodings"}


def mistakes_picture(coll, mist: dict, model, path: Path, n: int = 4) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d, same, pairs = mist["d"], mist["same"], mist["pairs"]
    fa = np.flatnonzero(~same)[np.argsort(d[~same])][:n]       # forgeries judged closest
    fr = np.flatnonzero(same)[np.argsort(-d[same])][:n]        # genuine pairs judged farthest
    rows = [(i, "false accept" if d[i] < model.threshold else "closest forgery (rejected)") for i in fa] + \
           [(i, "false reject" if d[i] >= model.threshold else "farthest genuine (accepted)") for i in fr]
    fig, axes = plt.subplots(len(rows), 2, figsize=(6.4, 1.25 * len(rows)), dpi=110)
    for r, (i, what) in enumerate(rows):
        a, b = pairs[i, 0], pairs[i, 1]
        for c, j in enumerate((a, b)):
            ax = axes[r, c]
            ax.imshow(model.kind.load(coll.root / coll.paths[j])[0], cmap="gray_r", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            name = coll.paths[j].rsplit("/", 1)[-1]
            ax.set_title(("reference " if c == 0 else "questioned ") + name, fontsize=6)
        p = model.probability(d[i])
        axes[r, 1].set_ylabel("")
        axes[r, 0].set_ylabel(f"{what}\nd={d[i]:.3g}\nP(gen)={float(p):.2f}", fontsize=6, rotation=0, ha="right", va="center")
    fig.suptitle(f"{coll.name}: hardest mistakes at τ={model.threshold:.3g}", fontsize=8)
    return save_figure(fig, path)


def card_sign_data_signers(card: dict) -> str | None:
    """The card's sign_data validation signers as "63-69" (None: all of them; "": none, the model
    was trained on every one and its card holds their cross-validated figure)."""
    v = card.get("metrics", {}).get("validation_sign_data", {})
    if v.get("folds"):
        return ""
    if v.get("signers"):
        return ",".join(str(s) for s in v["signers"])
    m = re.search(r"(\d+)-(\d+)", str(v.get("writers", "")))
    return f"{int(m.group(1))}-{int(m.group(2))}" if m else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="signature")
    ap.add_argument("--data", default=os.environ.get("SIAMNET_DATA", "../shared/datasets"))
    ap.add_argument("--val-writers", default=None, help="BHSig writers (default: the card's validation writers)")
    ap.add_argument("--sign-data-signers", default=None,
                    help="sign_data signers to score (default: the card's sign_data validation signers, never "
                         "the ones it was trained on)")
    ap.add_argument("--out", default="runs/signature/bench")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--timing-runs", type=int, default=50)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_signature_model(args.model)
    data, out = Path(args.data), Path(args.out)
    val_w = args.val_writers or model.card["metrics"]["validation_bhsig"]["writers"]
    sd_signers = args.sign_data_signers if args.sign_data_signers is not None else card_sign_data_signers(model.card)
    colls = {"bhsig_val": read_bhsig(data / "bhsig260_bengali").of_writers(parse_range(val_w))}
    result = {"model": str(model.source), "threshold": model.threshold, "threads": args.threads,
              "hardware": "2-core shared CPU, one run", "collections": {}}
    if sd_signers == "":  # trained on every sign_data signer: its figure is the card's cross-validated one
        cv = model.card["metrics"]["validation_sign_data"]
        result["sign_data_cross_validated"] = {k: cv[k] for k in ("eer", "auc", "pairs", "how") if k in cv}
        print(f"sign_data: every signer trained on; the card's {len(cv['folds'])}-fold cross-validated EER "
              f"{cv['eer']:.2%}, AUC {cv['auc']:.4f} (--sign-data-signers to score some anyway)")
    else:
        sd = read_sign_data(data / "sign_data")
        colls["sign_data"] = sd.of_writers(parse_range(sd_signers)) if sd_signers else sd
    curves = {}
    for name, coll in colls.items():
        t = time.perf_counter()
        e = model.encode([coll.root / p for p in coll.paths])
        secs = time.perf_counter() - t
        wi, extra = writer_independent(model, coll, e)
        wd = writer_dependent(model, coll, e, repeats=args.repeats)
        result["collections"][name] = {"writers": int(len(np.unique(coll.writers))), "images": len(coll.paths),
                                       "writer_ids": sorted(int(w) for w in np.unique(coll.writers)),
                                       "encode_images_per_s": len(coll.paths) / secs,
                                       "writer_independent": wi, "writer_dependent": wd}
        curves[f"{name} skilled"] = extra["curves"]["skilled"]
        curves[f"{name} random"] = extra["curves"]["random"]
        mistakes_picture(coll, extra["mistakes"], model, out / f"mistakes-{name}.png")
    plot_roc(curves, out / "roc.png", title="signature: writer-independent ROC (validation writers)")
    bh = colls["bhsig_val"]
    g = [bh.root / p for p, w, f in zip(bh.paths, bh.writers, bh.forged) if w == bh.writers[0] and not f]
    result["timing_1_vs_5"] = time_verify(model, g[:5], g[5], args.timing_runs)

    print(f"{'collection':<11} {'EER':>6} {'AUC':>6} {'FRR':>6} {'FAR-sk':>7} {'FAR-rnd':>7} {'acc':>6}   at τ={model.threshold:.4g}")
    for name, r in result["collections"].items():
        w = r["writer_independent"]
        print(f"{name:<11} {w['eer']:6.2%} {w['auc']:6.4f} {w['frr']:6.2%} {w['far_skilled']:7.2%} {w['far_random']:7.2%} {w['accuracy']:6.2%}")
    print("\nwriter-dependent (EER with one global threshold | FRR / FAR-skilled at the 1:1 τ | at the card's τ for the rule and K)")
    for name, r in result["collections"].items():
        for k, by_rule in r["writer_dependent"].items():
            cells = "  ".join(f"{rule}: {by_rule[rule]['eer']:6.2%} | {by_rule[rule]['frr']:6.2%} / {by_rule[rule]['far']:6.2%}"
                              f" | {by_rule[rule]['frr_k']:6.2%} / {by_rule[rule]['far_k']:6.2%}"
                              for rule in RULES)
            print(f"{name:<11} {k:<4} {cells}")
    tm = result["timing_1_vs_5"]
    print(f"\nverify 1 questioned vs 5 references: median {tm['median_ms']:.1f} ms, p95 {tm['p95_ms']:.1f} ms "
          f"({tm['threads']} thread, 2-core shared CPU)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
