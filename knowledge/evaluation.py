"""Retrieval quality on a JSONL question set: recall@k, MRR@10 and abstention.

A line: {"id": str, "question": str, "expected": [str, ...], "kind": "code" | "docs" |
"both" | "none"} (`kind` optional). An expected entry matches a result whose url or path
contains it. `"expected": []` marks a question the sources cannot answer: it counts
toward the abstention metrics, not toward recall. With kinds, recall@5 is also given
for code questions alone (`code_recall@5`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from knowledge.errors import LorebotError
from knowledge.index import SearchHit

MAX_REPORTED_PROBLEMS = 10


class EvalFileError(LorebotError):
    """The question file cannot be used; the message names each bad line and why."""


class EvalQuestion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: StrictStr = Field(min_length=1)
    question: StrictStr = Field(min_length=1)
    expected: list[StrictStr]
    kind: Literal["code", "docs", "both", "none"] | None = None


@dataclass(frozen=True)
class EvalResult:
    question: EvalQuestion
    hits: list[SearchHit]
    abstained: bool = False

    @property
    def first_hit_rank(self) -> int | None:
        for rank, hit in enumerate(self.hits, 1):
            if matches(self.question, hit):
                return rank
        return None


def matches(question: EvalQuestion, hit: SearchHit) -> bool:
    return any(e in hit.chunk.url or e in hit.chunk.path for e in question.expected)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Every question of the file; `EvalFileError` naming each bad line (line number and reason)."""
    questions: list[EvalQuestion] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(path.read_bytes().splitlines(), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"{path}:{number}: not UTF-8 (byte {exc.start + 1})")
            continue
        if not line.strip():
            continue
        try:
            question = _parse(line)
        except ValueError as exc:
            problems.append(f"{path}:{number}: {exc}")
            continue
        if question.id in seen:
            problems.append(f"{path}:{number}: id {question.id!r} is used twice")
        seen.add(question.id)
        questions.append(question)
    if problems:
        shown = problems[:MAX_REPORTED_PROBLEMS]
        more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
        raise EvalFileError(f"bad question lines: {'; '.join(shown)}{more}.")
    if not questions:
        raise EvalFileError(f"{path} holds no questions.")
    return questions


def _parse(line: str) -> EvalQuestion:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from exc
    if not isinstance(item, dict):
        raise ValueError("not a JSON object")
    try:
        return EvalQuestion.model_validate(item)
    except ValidationError as exc:
        raise ValueError(
            "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'line'}: {error['msg']}"
                for error in exc.errors(include_url=False)
            )
        ) from exc


def metrics(results: Sequence[EvalResult]) -> dict[str, float]:
    answerable = [r for r in results if r.question.expected]
    unanswerable = [r for r in results if not r.question.expected]

    def recall(k: int, of: Sequence[EvalResult]) -> float:
        return sum(1 for r in of if (rank := r.first_hit_rank) is not None and rank <= k) / max(len(of), 1)

    out = {
        "recall@1": recall(1, answerable),
        "recall@5": recall(5, answerable),
        "recall@10": recall(10, answerable),
        "mrr@10": sum(1 / rank for r in answerable if (rank := r.first_hit_rank) and rank <= 10)
        / max(len(answerable), 1),
        "answerable": float(len(answerable)),
        "unanswerable": float(len(unanswerable)),
        "answerable_abstained": float(sum(r.abstained for r in answerable)),
        "unanswerable_abstained": float(sum(r.abstained for r in unanswerable)),
    }
    code = [r for r in answerable if r.question.kind == "code"]
    if code:
        out["code_recall@5"] = recall(5, code)
    return {key: round(value, 4) for key, value in out.items()}
