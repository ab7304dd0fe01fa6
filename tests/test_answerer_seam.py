"""The Answerer seam: `stream` is the one method to write; `answer` and `await_answer` read it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from bot.answering import EVERYTHING, Answer, AnswerDelta, Answerer, Turn, await_answer
from knowledge.index import SearchFilters

FINAL = Answer("Deploy with make [1].", False, [], [], "deploy")


class Scripted(Answerer):
    def __init__(self, *items: AnswerDelta | Answer) -> None:
        self.items = items
        self.closed = False

    async def stream(
        self, question: str, history: Sequence[Turn] = (), filters: SearchFilters = EVERYTHING
    ) -> AsyncIterator[AnswerDelta | Answer]:
        try:
            for item in self.items:
                yield item
        finally:
            self.closed = True


async def test_answer_is_the_final_answer_of_the_stream() -> None:
    answerer = Scripted(AnswerDelta("Deploy"), AnswerDelta("Deploy with make"), FINAL)
    assert await answerer.answer("how do I deploy?") == FINAL
    assert answerer.closed  # the stream is finished at once, not left to garbage collection


async def test_await_answer_hands_over_each_delta_before_the_answer() -> None:
    answerer = Scripted(AnswerDelta("Deploy"), AnswerDelta("Deploy with make"), FINAL)
    seen: list[str] = []

    async def on_delta(delta: AnswerDelta) -> None:
        seen.append(delta.text)

    assert await await_answer(answerer.stream("how do I deploy?"), on_delta) == FINAL
    assert seen == ["Deploy", "Deploy with make"]


async def test_a_stream_without_an_answer_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="without an answer"):
        await Scripted(AnswerDelta("Deploy")).answer("how do I deploy?")


def test_an_answerer_must_implement_stream() -> None:
    class Incomplete(Answerer):
        pass

    with pytest.raises(TypeError, match="stream"):
        Incomplete()  # type: ignore[abstract]
