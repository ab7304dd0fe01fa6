"""The ranking stage: the index returns candidates, this decides the final order.

It sits above the index so every backend (embedded, Weaviate) answers with the same
quality. Three steps, each measured in docs/benchmarks.md:

1. priors: a test, changelog, contributor or generated file counts for less than the
   implementation or the docs, unless the question asks about that role (roles.py); a
   question whose form leans to the code ("where is … enforced"), to the docs ("how do
   i …") or to a test ("is there a test for …") counts the others of the code and docs for
   less; a page kept for an older version beside the newer one counts for less, unless the
   question names that version (versions.py);
2. one chunk per document: a document enters the top k once, with its best chunk, so
   five chunks of one wrong file cannot fill the top 5 (adding a bonus for a document's
   other matching chunks was measured and lost: long files won too often). Given the
   fusion weight the candidates were found with, a document scores by its best keyword
   match and its best vector match fused again, which may be two different chunks: a
   function split into windows can name the question's words in one and mean it in
   another;
3. abstention: whether the best passages likely do not answer the question: they are
   far from it (cosine below `abstain_threshold`), or the question names something no
   source in scope mentions (coverage.py) and the passages are not close either (below
   `absent_ceiling`: "does jinja ship a RedisLoader" abstains, "why isnt escaping the
   default, seems like a footgun" does not).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from knowledge.index import SearchHit
from knowledge.roles import Role, file_role, role_wanted, roles_asked_about
from knowledge.versions import older_versions, versions_asked_about

# Tuned on the dev split (docs/benchmarks.md); anything from 0.3 to 0.6 scores within one question.
ROLE_WEIGHTS: Mapping[Role, float] = {
    "code": 1.0,
    "docs": 1.0,
    "test": 0.4,
    "changelog": 0.3,
    "meta": 0.4,
    "generated": 0.3,
}

OLDER_VERSION_WEIGHT = 0.5
UNWANTED_SIDE_WEIGHT = 0.6
"""The code when a question's form asks for the docs, the other way round, and both when it asks
for a test (dev: 0.4–0.6 tie)."""


@dataclass(frozen=True)
class Ranking:
    candidates: int
    """How many index candidates the stage reorders."""
    abstain_threshold: float
    """Best-hit cosine below which the passages are taken not to answer."""
    absent_ceiling: float = 0.0
    """Best-hit cosine below which a question naming words no source contains is not answered
    (ABSENT_WORDS_CEILING; 0: such words never abstain by themselves)."""
    role_weights: Mapping[Role, float] = field(default_factory=lambda: dict(ROLE_WEIGHTS))
    source_role_weights: Mapping[str, Mapping[Role, float]] = field(default_factory=dict)
    """A source's own weights (its `role_weights` in LOREBOT_CONFIG) over `role_weights`."""
    per_document: int = 1
    """Chunks of one document in the top k (more only when fewer documents matched)."""

    def rank(self, query: str, candidates: Sequence[SearchHit], k: int, alpha: float | None = None) -> list[SearchHit]:
        """The top `k`, one chunk per document first. `alpha`: the fusion weight of the
        candidates' keyword and vector scores, to score documents by (none for scores that
        are not fused, such as a cross-encoder's: a document then scores by its best chunk)."""
        asked, wanted = roles_asked_about(query), role_wanted(query)
        older = older_versions({hit.chunk.path for hit in candidates}, versions_asked_about(query))
        by_document: dict[tuple[str, str], list[SearchHit]] = {}
        for hit in sorted(candidates, key=lambda h: h.score, reverse=True):
            by_document.setdefault((hit.chunk.source, hit.chunk.document_id), []).append(hit)
        documents: list[list[SearchHit]] = []
        for hits in by_document.values():
            weight = self._weight(hits[0], asked, wanted, older)  # a document's chunks share its path and source
            best = hits[0].score if alpha is None else _fused_best(hits, alpha)
            documents.append(
                [replace(hits[0], score=best * weight), *(replace(h, score=h.score * weight) for h in hits[1:])]
            )
        documents.sort(key=lambda hits: hits[0].score, reverse=True)  # best document first
        ranked = [hits[0] for hits in documents]
        for extra in range(1, self.per_document):
            ranked += [hits[extra] for hits in documents if len(hits) > extra]
        if len(ranked) < k:
            ranked += [hit for hits in documents for hit in hits[self.per_document :]]
        return ranked[:k]

    def _weight(self, hit: SearchHit, asked: frozenset[Role], wanted: Role | None, older: set[str]) -> float:
        role = file_role(hit.chunk.path, hit.chunk.kind)
        if role in asked:
            weight = 1.0
        else:
            weights = self.source_role_weights.get(hit.chunk.source, {})
            weight = weights.get(role, self.role_weights.get(role, 1.0))
        if wanted is not None and role in ("code", "docs") and role != wanted:
            weight *= UNWANTED_SIDE_WEIGHT
        return weight * OLDER_VERSION_WEIGHT if hit.chunk.path in older else weight

    def abstains(self, hits: Sequence[SearchHit], absent: Sequence[str] = ()) -> bool:
        if not hits:
            return True
        best = max(hit.similarity for hit in hits)
        return best < self.abstain_threshold or (bool(absent) and best < self.absent_ceiling)


def _fused_best(hits: Sequence[SearchHit], alpha: float) -> float:
    """A document's best keyword score and best vector score, fused as the index fuses a chunk's."""
    return alpha * max(hit.vector_score for hit in hits) + (1.0 - alpha) * max(hit.keyword_score for hit in hits)
