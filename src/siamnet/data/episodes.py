"""N-way K-shot episodes drawn from a labelled set, seeded.

An episode picks N classes (all from one group, e.g. one alphabet, when ``within_group`` —
Lake's protocol), K support images ("shots") and ``queries`` query images per class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError


@dataclass
class Episode:
    support: np.ndarray  # (N*K,) image indices, class-major
    support_labels: np.ndarray  # (N*K,) 0..N-1
    query: np.ndarray  # (N*Q,)
    query_labels: np.ndarray  # (N*Q,)
    group: str | None = None  # the group (alphabet) all its classes come from, when drawn within one


def make_episodes(labels: np.ndarray, groups: list[str], ways: int, shots: int, episodes: int,
                  queries: int = 1, within_group: bool = False, seed: int = 0) -> list[Episode]:
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]
    ok = [c for c, idx in enumerate(by_class) if len(idx) >= shots + queries]
    pools: list[list[int]]
    if within_group:
        pools = [[c for c in ok if groups[c] == g] for g in sorted(set(groups))]
        pools = [p for p in pools if len(p) >= ways]
        if not pools:
            raise DataError(f"no group has {ways} classes with {shots + queries}+ images for {ways}-way {shots}-shot episodes")
    else:
        if len(ok) < ways:
            raise DataError(f"only {len(ok)} classes have {shots + queries}+ images; {ways}-way episodes need {ways}")
        pools = [ok]
    out = []
    for e in range(episodes):
        pool = pools[e % len(pools)] if within_group else pools[0]
        classes = rng.choice(pool, size=ways, replace=False)
        sup, qry = [], []
        for c in classes:
            pick = rng.choice(by_class[c], size=shots + queries, replace=False)
            sup.append(pick[:shots])
            qry.append(pick[shots:])
        out.append(Episode(np.concatenate(sup), np.repeat(np.arange(ways), shots),
                           np.concatenate(qry), np.repeat(np.arange(ways), queries),
                           groups[pool[0]] if within_group else None))
    return out
