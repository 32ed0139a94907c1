"""One-shot evaluation: N-way K-shot episodes from a dataset, and Lake et al.'s official runs.

A query is answered with the class whose support images are, on average, most similar to it
(for K = 1: its nearest exemplar). Similarity is −d for distance models and P(same) for
models scored by their pair head.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from ..data.episodes import Episode
from ..data.images import load_image
from ..data.lake import Run


def episode_correct(model, emb: torch.Tensor, ep: Episode) -> np.ndarray:
    """Boolean per query: is the most similar class the right one?"""
    sim = model.similarity(emb[ep.query], emb[ep.support])  # (Q, N*K)
    ways = int(ep.support_labels.max()) + 1
    per_class = torch.zeros(len(ep.query), ways, device=sim.device)
    per_class.index_add_(1, torch.as_tensor(ep.support_labels, device=sim.device), sim)
    per_class /= torch.as_tensor(np.bincount(ep.support_labels), device=sim.device)
    return (per_class.argmax(1).cpu().numpy() == ep.query_labels)


def evaluate_episodes(model, images: np.ndarray, episodes: list[Episode], progress: bool = False) -> dict:
    t0 = time.perf_counter()
    used = np.unique(np.concatenate([np.r_[e.support, e.query] for e in episodes]))
    emb_used = model.embed(images[used])
    emb = torch.zeros(len(images), emb_used.shape[1], device=emb_used.device)
    emb[torch.as_tensor(used, device=emb.device)] = emb_used
    per = [episode_correct(model, emb, e) for e in tqdm(episodes, desc="episodes", disable=not progress, leave=False)]
    correct = np.concatenate(per)
    accs = np.array([p.mean() for p in per])
    res = {"accuracy": float(correct.mean()), "trials": int(correct.size), "runs": len(episodes),
           "accuracy_ci95": float(1.96 * accs.std(ddof=1) / np.sqrt(len(accs))) if len(accs) > 1 else 0.0}
    groups = sorted({e.group for e in episodes if e.group is not None})
    if groups:  # episodes drawn within one group (alphabet) each: accuracy per group as well
        res["per_group"] = []
        for g in groups:
            c = np.concatenate([p for p, e in zip(per, episodes) if e.group == g])
            res["per_group"].append({"group": g, "episodes": sum(e.group == g for e in episodes),
                                     "trials": int(c.size), "accuracy": float(c.mean())})
    res["seconds"] = time.perf_counter() - t0
    return res


def evaluate_runs(model, runs: list[Run], progress: bool = True) -> dict:
    """Lake's protocol: per-run and overall accuracy of nearest-exemplar classification."""
    t0 = time.perf_counter()
    per_run, correct_all = [], 0
    total = 0
    for run in tqdm(runs, desc="runs", disable=not progress, leave=False):
        ex = model.embed(np.stack([load_image(p, model.pre) for p in run.exemplars]))
        qs = model.embed(np.stack([load_image(p, model.pre) for p in run.queries]))
        pred = model.similarity(qs, ex).argmax(1).cpu().numpy()
        correct = int((pred == np.asarray(run.answers)).sum())
        per_run.append({"run": run.name, "correct": correct, "trials": len(run.queries),
                        "accuracy": correct / len(run.queries)})
        correct_all += correct
        total += len(run.queries)
    return {"accuracy": correct_all / total, "trials": total, "runs": len(runs),
            "per_run": per_run, "seconds": time.perf_counter() - t0}
