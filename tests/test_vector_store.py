"""The embedded index's vector side: the coarse scan never changes which rows win, or their scores."""

from __future__ import annotations

import numpy as np

from knowledge.index import SearchFilters
from knowledge.index.vectors import VectorStore


def rows_at(cosines: np.ndarray, query: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors whose cosine with the (unit) query is exactly each given value, in float32."""
    noise = rng.normal(size=(len(cosines), len(query)))
    noise -= np.outer(noise @ query, query)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return (np.outer(cosines, query) + noise * np.sqrt(1 - cosines**2)[:, None]).astype(np.float32)


def test_near_ties_are_decided_and_scored_in_float32() -> None:
    rng = np.random.default_rng(7)
    query = np.zeros(384, dtype=np.float32)
    query[0] = 1.0
    # 40 rows no 16-bit copy can tell apart (the step near 0.5: bfloat16 0.004, float16 0.0005), among 500 far below.
    cosines = np.concatenate([0.5 + rng.permutation(40) * 1e-5, rng.uniform(0.0, 0.3, 500)])
    store = VectorStore()
    store._reset(384)
    row_ids = list(range(1, len(cosines) + 1))
    store.add(row_ids, ["s"] * len(row_ids), ["code"] * len(row_ids), [""] * len(row_ids), rows_at(cosines, query, rng))
    exact = store.matrix[: store.size] @ query
    best = np.argsort(-exact)[:10]
    found = store.top(query, 10, SearchFilters())
    assert sorted(found, key=found.__getitem__, reverse=True) == [row_ids[i] for i in best]
    assert list(found.values()) == [float(exact[row_ids.index(r)]) for r in found]
