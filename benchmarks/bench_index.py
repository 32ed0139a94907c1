"""Identify latency (p50/p99) and recall@1 of FAISS against exact search, by gallery size.

    PYTHONPATH=src python benchmarks/bench_index.py [--sizes 5000,100000,1000000] [--queries 300]
    PYTHONPATH=src python benchmarks/bench_index.py --crossover     # where FAISS starts to pay

Encodings are synthetic, 128-d float32, clustered like face encodings: 512 "group" directions
on the unit sphere (scaled by 0.75); each person's centre is a group direction plus
N(0, 0.05²) per coordinate; each of a person's 5 encodings is the centre plus N(0, 0.028²)
per coordinate.  That gives distances between two encodings of one person of about 0.45 (5th-95th
percentile 0.40-0.50) and from a person to the nearest other person of about 0.70 at 20,000
people (closer as the gallery grows) — the scale of dlib's encodings, whose τ is 0.6.  The
generator is seeded; vectors are drawn in chunks of float32 so 1,000,000 of them take 512 MB.

A query is a new encoding of a random enrolled person (centre + fresh noise).  Latency is the
wall time of one ``index.search(query, k=8)`` call (the Gallery asks for 8 candidates), one
query at a time as a kiosk sends them, after 20 warm-up queries.  Recall@1: the share of
queries whose nearest encoding by FAISS is the exact nearest (same id, or a tie in distance);
"person@1" is the share whose nearest *person* is the one the probe came from.

Prints a table and, last, one JSON line.  Needs the service extra (faiss-cpu).

Measured (``--threads 1``; 2-core shared CPU, load average ~8 from other jobs, so the p99s are
noisy; p50 exact/FAISS ms, recall@1 of FAISS, FAISS build):

     encodings | exact p50      p99 | FAISS p50      p99 recall@1 | FAISS index   build
         5,000 |   0.294ms 25.299ms |   0.158ms 10.292ms    1.000 | flat (exact)   0.0s
       100,000 |  15.591ms 44.832ms |   0.339ms  5.852ms    1.000 | IVF 632/20     2.6s
     1,000,000 | 128.728ms 462.14ms |   2.994ms 11.349ms    1.000 | IVF 2000/62   32.6s

make_index picks exact at 5,000 and FAISS at 100,000 and 1,000,000.  With two FAISS threads
on this machine k-means took about twice as long as with one (OpenMP on 2 shared cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siamnet.gallery.index import ExactIndex, FaissIndex, make_index  # noqa: E402

DIM, PER_PERSON, GROUPS = 128, 5, 512


def clustered(n: int, seed: int = 0, chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray]:
    """(vectors (n, 128) float32, person id of each, person centres)."""
    rng = np.random.default_rng(seed)
    people = -(-n // PER_PERSON)
    groups = rng.standard_normal((GROUPS, DIM), dtype=np.float32)
    groups /= np.linalg.norm(groups, axis=1, keepdims=True)
    centres = groups[rng.integers(GROUPS, size=people)] * 0.75
    centres += rng.standard_normal((people, DIM), dtype=np.float32) * 0.05
    owner = np.repeat(np.arange(people, dtype=np.int64), PER_PERSON)[:n]
    x = np.empty((n, DIM), np.float32)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        x[s:e] = centres[owner[s:e]] + rng.standard_normal((e - s, DIM), dtype=np.float32) * 0.028
    return x, owner, centres


def probes(centres: np.ndarray, m: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    who = rng.integers(len(centres), size=m)
    q = centres[who] + rng.standard_normal((m, DIM), dtype=np.float32) * 0.028
    return q.astype(np.float32), who


def timed_queries(index, queries: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    for q in queries[:20]:
        index.search(q[None], k)
    times, dists, ids = [], [], []
    for q in queries:
        t = time.perf_counter()
        d, i = index.search(q[None], k)
        times.append(time.perf_counter() - t)
        dists.append(d[0])
        ids.append(i[0])
    return np.array(times) * 1000, np.array(dists), np.array(ids)


def run_size(n: int, m: int, exact_queries: int | None = None, nprobe: int | None = None
             ) -> dict:
    t = time.perf_counter()
    x, owner, centres = clustered(n)
    gen_s = time.perf_counter() - t
    ids = np.arange(n, dtype=np.int64)
    q, who = probes(centres, m)

    t = time.perf_counter()
    exact = ExactIndex().build(x, ids)
    exact_build = time.perf_counter() - t
    eq = q[: exact_queries or m]
    e_ms, e_d, e_i = timed_queries(exact, eq)

    t = time.perf_counter()
    faiss_index = FaissIndex(nprobe=nprobe).build(x, ids)
    faiss_build = time.perf_counter() - t
    f_ms, f_d, f_i = timed_queries(faiss_index, q)

    # exact answers for every query (batched: latency was measured above on a subset)
    ex_d, ex_i = exact.search(q, 1)
    same = (f_i[:, 0] == ex_i[:, 0]) | np.isclose(f_d[:, 0], ex_d[:, 0], rtol=1e-5, atol=1e-6)
    return {
        "n": n, "make_index": type(make_index(n)).__name__, "queries": m,
        "exact_timed_queries": len(eq), "generate_s": round(gen_s, 1),
        "exact": {"build_s": round(exact_build, 2), "p50_ms": round(float(np.median(e_ms)), 3),
                  "p99_ms": round(float(np.percentile(e_ms, 99)), 3),
                  "person_at_1": float(np.mean(owner[ex_i[:, 0]] == who))},
        "faiss": {"kind": type(faiss_index._index).__name__,
                  "nlist": getattr(faiss_index._index, "nlist", None),
                  "nprobe": faiss_index.effective_nprobe,
                  "build_s": round(faiss_build, 2), "p50_ms": round(float(np.median(f_ms)), 3),
                  "p99_ms": round(float(np.percentile(f_ms, 99)), 3),
                  "recall_at_1": float(np.mean(same)),
                  "person_at_1": float(np.mean(owner[f_i[:, 0]] == who))},
    }


def crossover(sizes: list[int], m: int) -> list[dict]:
    rows = []
    for n in sizes:
        x, _, centres = clustered(n)
        q, _ = probes(centres, m)
        ids = np.arange(n, dtype=np.int64)
        row = {"n": n}
        for name, index in (("exact", ExactIndex()), ("faiss_ivf", FaissIndex(min_ivf=0))):
            t = time.perf_counter()
            index.build(x, ids)
            build = time.perf_counter() - t
            ms, _, _ = timed_queries(index, q)
            row[name] = {"p50_ms": round(float(np.median(ms)), 3), "build_s": round(build, 2)}
        rows.append(row)
        print(f"{n:>9,}  exact p50 {row['exact']['p50_ms']:7.3f} ms   "
              f"faiss IVF p50 {row['faiss_ivf']['p50_ms']:7.3f} ms "
              f"(build {row['faiss_ivf']['build_s']:.2f} s)", flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="5000,100000,1000000",
                   help="numbers of encodings (default 5000 = 1,000 people x 5, 100000, 1000000)")
    p.add_argument("--queries", type=int, default=300, help="queries per size (default 300)")
    p.add_argument("--exact-queries", type=int, default=100,
                   help="queries timed on the exact index at 1,000,000 (it takes ~40 ms each)")
    p.add_argument("--nprobe", type=int, default=None,
                   help="FAISS cells visited (default: nlist/32, at least 8)")
    p.add_argument("--threads", type=int, default=None, help="FAISS/BLAS threads (default all)")
    p.add_argument("--crossover", action="store_true",
                   help="only compare exact and IVF latency from 2,000 to 100,000 encodings")
    args = p.parse_args(argv)
    if args.threads:
        import faiss

        faiss.omp_set_num_threads(args.threads)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(),
               "numpy": np.__version__, "faiss": __import__("faiss").__version__}
    if args.crossover:
        rows = crossover([2_000, 5_000, 10_000, 20_000, 50_000, 100_000], args.queries)
        print(json.dumps({"benchmark": "index_crossover", "machine": machine, "rows": rows}))
        return 0
    results = []
    print(f"{'encodings':>10} | {'exact p50':>9} {'p99':>8} | {'FAISS p50':>9} {'p99':>8} "
          f"{'recall@1':>8} {'person@1':>8} | {'FAISS index':<14} {'build':>7} | make_index")
    for n in (int(s) for s in args.sizes.split(",")):
        r = run_size(n, args.queries, args.exact_queries if n >= 500_000 else None, args.nprobe)
        results.append(r)
        e, f = r["exact"], r["faiss"]
        kind = f"IVF {f['nlist']}/{f['nprobe']}" if f["nlist"] else f["kind"]
        print(f"{n:>10,} | {e['p50_ms']:>7.3f}ms {e['p99_ms']:>6.3f}ms | {f['p50_ms']:>7.3f}ms "
              f"{f['p99_ms']:>6.3f}ms {f['recall_at_1']:>8.3f} {f['person_at_1']:>8.3f} | "
              f"{kind:<14} {f['build_s']:>6.1f}s | {r['make_index']}", flush=True)
    print(json.dumps({"benchmark": "index", "machine": machine, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
