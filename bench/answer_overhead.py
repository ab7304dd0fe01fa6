"""Latency the answer pipeline adds over retrieval alone, the model's own time excluded.

The model is the OpenAI-compatible stub from the tests, answering at once, reached through
the real litellm over HTTP on 127.0.0.1; the index is the dev-set corpus (see
devset/corpus.py). For each answerable question: retrieval alone, then the full
`answer()` and `stream()`; the added latency is their paired difference. Target: p50 ≤ 30 ms.

    python bench/answer_overhead.py [ROUNDS]
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # for tests.fakes

from devset.corpus import ANSWERABLE, synced_settings  # noqa: E402
from timing import p50_p95  # noqa: E402

from bot.answering.llm import LLMAnswerer  # noqa: E402
from bot.answering.prompt import build_prompt  # noqa: E402
from bot.runtime import open_runtime  # noqa: E402
from knowledge.evaluation import load_questions  # noqa: E402
from knowledge.ranking import Ranking  # noqa: E402
from knowledge.retriever import Retriever  # noqa: E402
from tests.fakes.llm_server import LLMStub  # noqa: E402

REPLY = "The width is computed from the ratio of completed to total steps [1], rounded to cells [2]."


def line(label: str, values: list[float]) -> str:
    p50, p95 = p50_p95(values)
    return f"{label:<34} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   n={len(values)}"


async def timed(coroutine) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    await coroutine
    return (time.perf_counter() - started) * 1000


async def main(rounds: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    settings = await synced_settings()
    questions = [q.question for q in load_questions(ANSWERABLE)]
    async with LLMStub() as stub, open_runtime(settings) as runtime:
        base = await runtime.retriever()
        never_abstains = Ranking(base.ranking.candidates, abstain_threshold=-1.0)  # always reach the model
        retriever = Retriever(base.index, base.embedder, base.alpha, never_abstains)
        stub.respond_with(REPLY)
        answerer = LLMAnswerer(
            retriever,
            "openai/stub-model",
            api_base=stub.base_url,
            api_key="sk-bench",
            k=settings.search_k,
            timeout=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
            history_tokens=settings.history_token_budget,
        )

        async def stream(question: str) -> None:
            async for _ in answerer.stream(question):
                pass

        for question in questions[:5]:  # warm-up: tokenizer, litellm's client, the index matrix
            await answerer.answer(question)
            await stream(question)
        search, full, streamed, prompt = [], [], [], []
        for _ in range(rounds):
            for question in questions:
                alone = await timed(retriever.search(question, settings.search_k))
                search.append(alone)
                full.append(await timed(answerer.answer(question)) - alone)
                streamed.append(await timed(stream(question)) - alone)
                hits = await retriever.search(question, settings.search_k)
                started = time.perf_counter()
                build_prompt(answerer.endpoints[0].model, question, hits, history_tokens=settings.history_token_budget)
                prompt.append((time.perf_counter() - started) * 1000)

    print(f"\n{len(questions)} questions x {rounds} rounds, k={settings.search_k}, stub model answering at once")
    print(line("retrieval alone", search))
    print(line("answer() added over retrieval", full))
    print(line("stream() added over retrieval", streamed))
    print(line("  of which: prompt building", prompt))
    for label, added in (("answer()", full), ("stream()", streamed)):
        verdict = "meets" if statistics.median(added) <= 30 else "misses"
        print(f"{label} {verdict} the target of p50 ≤ 30 ms added")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
