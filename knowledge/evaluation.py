"""Retrieval quality on a JSONL question set: recall@k and MRR@10.

A line: {"id": str, "question": str, "expected": [str, ...]}. An expected entry matches
a result whose url or path contains it. `"expected": []` marks a question the sources
cannot answer: it counts toward the abstention metrics, not toward recall.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge.index import SearchHit


class EvalFileError(ValueError):
    """The question file cannot be read; the message says which line and why."""


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    expected: tuple[str, ...]


@dataclass(frozen=True)
class EvalResult:
    question: EvalQuestion
    hits: list[SearchHit]

    @property
    def first_hit_rank(self) -> int | None:
        for rank, hit in enumerate(self.hits, 1):
            if any(e in hit.chunk.url or e in hit.chunk.path for e in self.question.expected):
                return rank
        return None

    @property
    def best_similarity(self) -> float:
        return max((hit.similarity for hit in self.hits), default=0.0)


def load_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            questions.append(EvalQuestion(str(item["id"]), str(item["question"]), tuple(item["expected"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalFileError(f"{path}:{number} is not an eval line ({type(exc).__name__}: {exc}).") from exc
    if not questions:
        raise EvalFileError(f"{path} holds no questions.")
    return questions


def metrics(results: Sequence[EvalResult], abstain_threshold: float) -> dict[str, float]:
    answerable = [r for r in results if r.question.expected]
    unanswerable = [r for r in results if not r.question.expected]
    ranks = [r.first_hit_rank for r in answerable]
    n = max(len(answerable), 1)

    def recall(k: int) -> float:
        return sum(1 for rank in ranks if rank is not None and rank <= k) / n

    out = {
        "recall@1": recall(1),
        "recall@5": recall(5),
        "recall@10": recall(10),
        "mrr@10": sum(1 / rank for rank in ranks if rank is not None and rank <= 10) / n,
        "answerable": float(len(answerable)),
        "unanswerable": float(len(unanswerable)),
        "answerable_abstained": float(sum(r.best_similarity < abstain_threshold for r in answerable)),
        "unanswerable_abstained": float(sum(r.best_similarity < abstain_threshold for r in unanswerable)),
    }
    return {key: round(value, 4) for key, value in out.items()}
