"""Relative score fusion, the way Weaviate's hybrid search does it (`relativeScoreFusion`).

Each side (BM25 keyword search, vector search) returns its own top candidates. Each
side's scores are min-max normalized over those candidates to [0, 1]; when all of a
side's scores are equal they all become 1 (Weaviate does the same). A result's fused
score is ``alpha * vector + (1 - alpha) * keyword``, a side that did not return it
counting 0, so fused scores lie in [0, 1] and are relative to one result list.
A side with weight 0 is not consulted at all: ``alpha=0`` is pure BM25, ``alpha=1``
pure vector search, as in Weaviate.

How deep each side's candidate list is matters: the worst candidate of a side maps to 0.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

# BM25 weight of each keyword field, for both indexes: a hit in the title (file or page
# name, symbol) or in the keywords (path, identifiers split into words, breadcrumb) says
# more than one in the body text. FTS5 multiplies term frequencies by these before BM25's
# saturation, so their scale matters too: a low body weight keeps long chunks that repeat
# a common word from crowding out short ones. Tuned on bench/devset/rich.jsonl.
KEYWORD_FIELD_WEIGHTS = {"title": 1.0, "text": 1.0, "keywords": 1.0}


@dataclass(frozen=True)
class Fused(Generic[K]):
    key: K
    score: float
    keyword: float
    vector: float


def min_max(scores: Mapping[K, float]) -> dict[K, float]:
    """Scores mapped to [0, 1]: the best becomes 1, the worst 0; all equal → all 1."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return {key: 1.0 for key in scores}
    span = high - low
    return {key: (value - low) / span for key, value in scores.items()}


def fuse(
    keyword: Mapping[K, float], vector: Mapping[K, float], alpha: float, limit: int | None = None
) -> list[Fused[K]]:
    """Raw per-side scores (higher is better) → fused results, best first.

    Ties keep the order of first appearance, keyword candidates before vector ones.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    keyword_norm = min_max(keyword) if alpha < 1.0 else {}
    vector_norm = min_max(vector) if alpha > 0.0 else {}
    keys = list(dict.fromkeys([*keyword_norm, *vector_norm]))
    fused = []
    for key in keys:
        kw, vec = keyword_norm.get(key, 0.0), vector_norm.get(key, 0.0)
        score = min(1.0, max(0.0, alpha * vec + (1.0 - alpha) * kw))
        fused.append(Fused(key, score, kw, vec))
    fused.sort(key=lambda item: item.score, reverse=True)
    return fused if limit is None else fused[:limit]
