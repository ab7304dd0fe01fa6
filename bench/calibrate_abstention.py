"""Calibrate ABSTAIN_THRESHOLD: the best hit's raw cosine below which lorebot does not ask the model.

Indexes the dev-set corpus (the `rich` library's source, incrementally, in its own data
directory), retrieves k results for every answerable question (bench/devset/rich.jsonl) and
every unanswerable one (rich_unanswerable.jsonl), then sweeps thresholds on the best hit's
similarity: per threshold, how many unanswerable questions abstain and how many answerable
ones wrongly abstain. Recommends the threshold with the most right abstentions minus wrong ones among those that
wrongly abstain on at most MAX_WRONG_ABSTAIN of the answerable questions: a wrong abstention
hides an answer, while a question let through still meets the model, which is told to say
when it does not know.

    python bench/calibrate_abstention.py
"""

from __future__ import annotations

import asyncio
import statistics

from devset.corpus import ANSWERABLE, UNANSWERABLE, synced_settings

from bot.runtime import open_runtime
from knowledge.evaluation import EvalResult, load_questions

MAX_WRONG_ABSTAIN = 0.05
THRESHOLDS = [round(0.10 + 0.025 * i, 3) for i in range(21)]  # 0.10 .. 0.60


def recommend(answerable: list[float], unanswerable: list[float]) -> float:
    """Most right abstentions minus wrong ones, within the allowed wrong share; ties: the lower."""
    allowed = int(MAX_WRONG_ABSTAIN * len(answerable))
    fitting = [t for t in THRESHOLDS if sum(s < t for s in answerable) <= allowed]
    if not fitting:
        return THRESHOLDS[0]
    return max(fitting, key=lambda t: (sum(s < t for s in unanswerable) - sum(s < t for s in answerable), -t))


def best_similarity(result: EvalResult) -> float:
    return max((hit.similarity for hit in result.hits), default=0.0)


def describe(label: str, scores: list[float]) -> str:
    return (
        f"{label:<12} n={len(scores):>2}  min {min(scores):.3f}  median {statistics.median(scores):.3f}  "
        f"max {max(scores):.3f}"
    )


def listing(scores: dict[str, float], strongest: bool) -> str:
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=strongest)[:5]
    return ", ".join(f"{question} {score:.3f}" for question, score in ranked)


async def main() -> None:
    settings = await synced_settings()
    questions = load_questions(ANSWERABLE) + load_questions(UNANSWERABLE)
    async with open_runtime(settings) as runtime:
        retriever = await runtime.retriever()
        results = [EvalResult(q, await retriever.search(q.question, settings.search_k)) for q in questions]
    by_kind = {
        kind: {r.question.id: best_similarity(r) for r in results if bool(r.question.expected) is kind}
        for kind in (True, False)
    }
    answerable, unanswerable = list(by_kind[True].values()), list(by_kind[False].values())

    print(f"\nbest-hit similarity at k={settings.search_k}:")
    print(describe("answerable", answerable))
    print(describe("unanswerable", unanswerable))
    print(f"\n{'threshold':>9}  {'unanswerable abstained':>22}  {'answerable wrongly abstained':>28}")
    for t in THRESHOLDS:
        right = sum(s < t for s in unanswerable)
        wrong = sum(s < t for s in answerable)
        print(f"{t:>9.3f}  {right:>15}/{len(unanswerable):<6}  {wrong:>21}/{len(answerable):<6}")

    best = recommend(answerable, unanswerable)
    print(
        f"\nrecommended ABSTAIN_THRESHOLD={best:.3f} (most right minus wrong abstentions, at most "
        f"{MAX_WRONG_ABSTAIN:.0%} of answerable questions wrongly abstained): "
        f"{sum(s < best for s in unanswerable)}/{len(unanswerable)} unanswerable abstain, "
        f"{sum(s < best for s in answerable)}/{len(answerable)} answerable wrongly abstain; "
        f"current setting {settings.abstain_threshold:.3f}"
    )
    print("unanswerable questions closest to the corpus:", listing(by_kind[False], strongest=True))
    print("answerable questions with the weakest best hit:", listing(by_kind[True], strongest=False))


if __name__ == "__main__":
    asyncio.run(main())
