"""Helpers for the store tests (a uniquely named module; see tests/_support.py)."""

from __future__ import annotations

import numpy as np

MODEL = "test-model"
DIM = 128


def vectors(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def count(store, table: str) -> int:
    """Rows in a table, straight from the database (not through the store's own queries)."""
    if store.kind == "sqlite":
        return store._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    return store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
