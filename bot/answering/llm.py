"""Answers written by an LLM through litellm, grounded in the retrieved sources and cited as [n].

The pipeline: follow-up → standalone query, retrieve, abstain without the model when retrieval
is not confident, else prompt → model. Transient errors (rate limits, 5xx, connection errors)
are retried a bounded number of times; a timeout or any other failure moves on to the next
fallback model at once, and when every model failed the extractive answer is returned with a
note. The user always gets an answer or a clear message.

The answer is always a streamed completion (the timeout applies to its start and to each gap
between pieces); `Answerer.answer` reads the same stream to its end, so there is one path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from bot.answering import EVERYTHING, Answer, AnswerDelta, Answerer, Citation, Turn
from bot.answering.extractive import compose_extractive
from bot.answering.followup import standalone_query
from bot.answering.litellm_client import litellm
from bot.answering.markers import resolve_markers, streaming_text
from bot.answering.prompt import Prompt, build_prompt, context_tokens, counter, says_dont_know
from bot.answering.token_budget import TokenBudget
from knowledge.context import in_context
from knowledge.index import SearchFilters, SearchHit
from knowledge.retriever import Retrieval, Retriever

logger = logging.getLogger(__name__)

UNAVAILABLE_NOTE = "The language model was unavailable, so these are the most relevant passages instead."
NOT_GROUNDED_NOTE = "This answer cites none of the sources, so it is not grounded in them; see the top sources."
REWRITE_TIMEOUT_SECONDS = 10.0
REWRITE_MAX_TOKENS = 64
NEAREST = 3

_TRANSIENT = (
    litellm.RateLimitError,
    litellm.InternalServerError,
    litellm.ServiceUnavailableError,
    litellm.BadGatewayError,
    litellm.APIConnectionError,  # litellm.Timeout is not one of these: a timeout is not retried
)


class ModelFailed(Exception):
    """One model could not answer: timeout, error, rate limit after retries, or an empty reply."""


@dataclass(frozen=True)
class Endpoint:
    model: str
    api_base: str | None = None
    api_key: str | None = None


def _provider(model: str) -> str | None:
    try:
        return litellm.get_llm_provider(model)[1]
    except Exception:
        return None


def endpoints(
    model: str, fallbacks: Sequence[str] = (), api_base: str | None = None, api_key: str | None = None
) -> list[Endpoint]:
    """The primary model, then each fallback. LLM_API_BASE and LLM_API_KEY go with the primary
    model's provider; a fallback on another provider uses that provider's own environment variables."""
    provider = _provider(model)
    chain = [Endpoint(model, api_base, api_key)]
    for fallback in fallbacks:
        same = _provider(fallback) == provider
        chain.append(Endpoint(fallback, api_base, api_key) if same else Endpoint(fallback))
    return chain


class LLMAnswerer(Answerer):
    def __init__(
        self,
        retriever: Retriever,
        model: str,
        *,
        k: int,
        timeout: float,
        max_retries: int,
        history_tokens: int,
        fallback_models: Sequence[str] = (),
        api_base: str | None = None,
        api_key: str | None = None,
        retry_wait: float = 1.0,
        context_window: int | None = None,
    ) -> None:
        self.retriever = retriever
        self.endpoints = endpoints(model, fallback_models, api_base, api_key)
        self.timeout = timeout
        self.max_retries = max_retries
        self.k = k
        self.history_tokens = history_tokens
        self.retry_wait = retry_wait
        self._context_windows = {e.model: context_window or context_tokens(e.model) for e in self.endpoints}

    async def stream(
        self, question: str, history: Sequence[Turn] = (), filters: SearchFilters = EVERYTHING
    ) -> AsyncIterator[AnswerDelta | Answer]:
        """Growing `AnswerDelta`s while the model writes, then the final `Answer`. If a model
        fails mid-answer the next one starts over, so a delta may be shorter than the last."""
        retrieval = await self._retrieve(question, history, filters)
        query, hits = retrieval.query, retrieval.hits
        if retrieval.abstain:
            yield compose_extractive(retrieval)
            return
        passages = await in_context(self.retriever.index, hits)
        for endpoint in self.endpoints:
            prompt = self._prompt(endpoint, question, passages, retrieval.absent, history)
            text, shown = "", ""
            try:
                async with contextlib.aclosing(self._stream_completion(endpoint, prompt)) as pieces:
                    async for piece in pieces:
                        text += piece
                        visible = streaming_text(text, prompt.sources)
                        if visible and visible != shown:
                            shown = visible
                            yield AnswerDelta(visible)
            except ModelFailed:
                continue
            yield _grounded(text, prompt, hits, query, endpoint.model)
            return
        yield compose_extractive(retrieval, note=UNAVAILABLE_NOTE)

    async def _retrieve(self, question: str, history: Sequence[Turn], filters: SearchFilters) -> Retrieval:
        budget = TokenBudget(self.history_tokens, counter(self.endpoints[0].model))
        query = await standalone_query(question, history, self._rewrite, budget)
        return await self.retriever.retrieve(query, self.k, filters)

    def _prompt(
        self,
        endpoint: Endpoint,
        question: str,
        passages: Sequence[SearchHit],
        absent: Sequence[str],
        history: Sequence[Turn],
    ) -> Prompt:
        window = self._context_windows[endpoint.model]
        return build_prompt(
            endpoint.model,
            question,
            passages,
            history,
            window,
            history_tokens=self.history_tokens,
            absent=absent,
        )

    def _request(self, endpoint: Endpoint, messages: list[dict[str, str]], timeout: float, **extra: Any) -> dict:
        # max_retries=0: retries are ours (bounded, transient errors only), not the client's.
        return dict(
            model=endpoint.model,
            messages=messages,
            api_base=endpoint.api_base,
            api_key=endpoint.api_key,
            timeout=timeout,
            max_retries=0,
            **extra,
        )

    async def _rewrite(self, messages: list[dict[str, str]]) -> str | None:
        """The follow-up rewrite: one short call to the primary model, no retries."""
        endpoint = self.endpoints[0]
        timeout = min(self.timeout, REWRITE_TIMEOUT_SECONDS)
        request = self._request(endpoint, messages, timeout, max_tokens=REWRITE_MAX_TOKENS)
        try:
            with _failures(endpoint.model, timeout):
                response = await self._call(request, retries=0)
                return response.choices[0].message.content
        except ModelFailed:
            return None

    async def _call(self, request: dict[str, Any], retries: int) -> Any:
        """litellm under the request's timeout; transient errors retried `retries` times."""

        async def once() -> Any:
            return await asyncio.wait_for(litellm.acompletion(**request), request["timeout"])

        model = request["model"]
        retrying = AsyncRetrying(
            stop=stop_after_attempt(retries + 1),
            wait=wait_exponential(multiplier=self.retry_wait, max=10),
            retry=retry_if_exception_type(_TRANSIENT),
            reraise=True,
            before_sleep=lambda state: logger.info(
                "model %s: retrying after %s", model, state.outcome.exception() if state.outcome else None
            ),
        )
        return await retrying(once)

    async def _stream_completion(self, endpoint: Endpoint, prompt: Prompt) -> AsyncGenerator[str, None]:
        """The answer's text pieces; the timeout applies to the start and to each gap between pieces."""
        request = self._request(
            endpoint, prompt.messages, self.timeout, max_tokens=prompt.max_answer_tokens, stream=True
        )
        with _failures(endpoint.model, self.timeout):
            stream = await self._call(request, self.max_retries)
            try:
                blank = True
                while True:
                    try:
                        chunk = await asyncio.wait_for(anext(stream), self.timeout)
                    except StopAsyncIteration:
                        break
                    piece = chunk.choices[0].delta.content if chunk.choices else None
                    if piece:
                        blank = blank and not piece.strip()
                        yield piece
                if blank:
                    raise ModelFailed(f"{endpoint.model} returned an empty answer")
            finally:
                await stream.aclose()


@contextlib.contextmanager
def _failures(model: str, timeout: float) -> Iterator[None]:
    """Any failure of a model call becomes `ModelFailed`, with a log line saying why."""
    try:
        yield
    except ModelFailed as exc:
        logger.warning("model %s failed: %s", model, exc)
        raise
    except (TimeoutError, litellm.Timeout) as exc:
        logger.warning("model %s timed out after %.1f s", model, timeout)
        raise ModelFailed(f"{model} timed out") from exc
    except Exception as exc:  # litellm raises many types across providers; all mean "try the next"
        logger.warning("model %s failed: %s: %s", model, type(exc).__name__, exc)
        raise ModelFailed(f"{model} failed") from exc


def _citation(n: int, hits: Sequence[SearchHit]) -> Citation:
    return Citation(n, hits[n - 1].chunk.title, hits[n - 1].chunk.url)


def _grounded(text: str, prompt: Prompt, hits: Sequence[SearchHit], query: str, model: str) -> Answer:
    """The model's reply as an Answer: valid [n] markers only, cited sources as citations."""
    resolved = resolve_markers(text, prompt.sources)
    cited = [_citation(n, hits) for n in resolved.cited]
    nearest = [_citation(n, hits) for n in range(1, min(NEAREST, len(hits)) + 1)]
    ranks = frozenset(resolved.cited)
    if says_dont_know(resolved.text):
        return Answer(resolved.text, True, cited or nearest, list(hits), query, model=model, cited_ranks=ranks)
    if not cited:
        return Answer(resolved.text, False, nearest, list(hits), query, model=model, note=NOT_GROUNDED_NOTE)
    return Answer(resolved.text, False, cited, list(hits), query, model=model, cited_ranks=ranks)
