"""The ranking stage: the index returns candidates, this decides the final order.

It sits above the index so every backend (embedded, Weaviate) answers with the same
quality. Three steps, each measured in docs/benchmarks.md:

1. a prior by file role (roles.py): a test, changelog or contributor file counts for
   less than the implementation or the docs, unless the question asks about that role;
2. one chunk per document: a document enters the top k once, with its best chunk, so
   five chunks of one wrong file cannot fill the top 5 (adding a bonus for a document's
   other matching chunks was measured and lost: long files won too often);
3. abstention: whether the best passages likely do not answer the question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from knowledge.index import SearchHit
from knowledge.roles import Role, file_role, roles_asked_about

# Tuned on the dev split (docs/benchmarks.md); anything from 0.3 to 0.6 scores within one question.
ROLE_WEIGHTS: Mapping[Role, float] = {"code": 1.0, "docs": 1.0, "test": 0.4, "changelog": 0.3, "meta": 0.4}


@dataclass(frozen=True)
class Ranking:
    candidates: int
    """How many index candidates the stage reorders."""
    abstain_threshold: float
    """Best-hit cosine below which the passages are taken not to answer."""
    role_weights: Mapping[Role, float] = field(default_factory=lambda: dict(ROLE_WEIGHTS))
    per_document: int = 1
    """Chunks of one document in the top k (more only when fewer documents matched)."""

    def rank(self, query: str, candidates: Sequence[SearchHit], k: int) -> list[SearchHit]:
        asked = roles_asked_about(query)
        weighted = [replace(hit, score=hit.score * self._weight(hit, asked)) for hit in candidates]
        by_document: dict[tuple[str, str], list[SearchHit]] = {}
        for hit in sorted(weighted, key=lambda h: h.score, reverse=True):
            by_document.setdefault((hit.chunk.source, hit.chunk.document_id), []).append(hit)
        documents = list(by_document.values())  # best document first: its best chunk is the best left
        ranked = [hits[0] for hits in documents]
        for extra in range(1, self.per_document):
            ranked += [hits[extra] for hits in documents if len(hits) > extra]
        if len(ranked) < k:
            ranked += [hit for hits in documents for hit in hits[self.per_document :]]
        return ranked[:k]

    def _weight(self, hit: SearchHit, asked: frozenset[Role]) -> float:
        role = file_role(hit.chunk.path, hit.chunk.kind)
        return 1.0 if role in asked else self.role_weights.get(role, 1.0)

    def abstains(self, query: str, hits: Sequence[SearchHit]) -> bool:
        return not hits or max(hit.similarity for hit in hits) < self.abstain_threshold
