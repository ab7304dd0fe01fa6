"""An OpenAI-compatible chat-completions stub on 127.0.0.1, for driving the real litellm.

Point litellm at it with a model such as `openai/stub-model` and `api_base=stub.base_url`.
Replies are scripted per test: `enqueue(...)` queues replies (one per request, in order),
`respond_with(fn)` answers whatever the queue does not. A reply is a text, a `Reply`
(status, delays for timeouts, error bodies) or a function of the recorded request.
Every request is recorded, so tests can assert on the messages the model was sent.
Fixtures (registered for every test module by tests/conftest.py): `llm_stub`, a running
stub; `loopback_only`, which fails a test that connects anywhere but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import re
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Self

import pytest
from aiohttp import web


@dataclass(frozen=True)
class Reply:
    text: str = ""
    status: int = 200
    delay: float = 0.0
    """Seconds before the response starts (longer than the client's timeout: a timeout)."""
    chunk_delay: float = 0.0
    """Seconds between streamed chunks."""
    pieces: tuple[str, ...] = ()
    """The streamed content pieces, when not the words of `text` (e.g. whitespace only)."""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, status: int, message: str = "", **headers: str) -> Reply:
        return cls(text=message or f"stub error {status}", status=status, headers=headers)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


Scripted = str | Reply | Callable[[RecordedRequest], "str | Reply"]

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_exceeded"}


class LLMStub:
    """`async with LLMStub() as stub:` serves until the block ends."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Scripted] = deque()
        self._default: Scripted | None = None
        self._closing = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *replies: Scripted) -> None:
        self._queue.extend(replies)

    def respond_with(self, reply: Scripted) -> None:
        """The reply for any request the queue has nothing for."""
        self._default = reply

    def requests_for(self, model: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.model == model]

    async def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.requests) >= count), timeout)
        return self.requests

    async def start(self) -> Self:
        app = web.Application()
        for path in ("/v1/chat/completions", "/chat/completions"):
            app.router.add_post(path, self._chat_completions)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        self._closing.set()  # ends scripted delays at once
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _next_reply(self, request: RecordedRequest) -> Reply:
        scripted = self._queue.popleft() if self._queue else self._default
        if scripted is None:
            return Reply.error(500, "stub: no reply scripted for this request")
        if callable(scripted):
            scripted = scripted(request)
        return Reply(text=scripted) if isinstance(scripted, str) else scripted

    async def _pause(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    async def _chat_completions(self, http_request: web.Request) -> web.StreamResponse:
        request = RecordedRequest(http_request.path, dict(http_request.headers), await http_request.json())
        async with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
        reply = self._next_reply(request)
        await self._pause(reply.delay)
        if reply.status != 200:
            error = {
                "message": reply.text,
                "type": _ERROR_TYPES.get(reply.status, "server_error"),
                "code": str(reply.status),
            }
            return web.json_response({"error": error}, status=reply.status, headers=reply.headers)
        if request.stream:
            return await self._stream(http_request, request, reply)
        return web.json_response(_completion(request.model, reply.text), headers=reply.headers)

    async def _stream(self, http_request: web.Request, request: RecordedRequest, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **reply.headers})
        await response.prepare(http_request)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        pieces = list(reply.pieces) or re.findall(r"\s*\S+", reply.text) or [""]
        for i, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            await _send(response, _chunk(completion_id, request.model, delta, None))
            await self._pause(reply.chunk_delay)
        await _send(response, _chunk(completion_id, request.model, {}, "stop"))
        if (request.body.get("stream_options") or {}).get("include_usage"):
            usage_chunk = _chunk(completion_id, request.model, {}, None) | {"choices": [], "usage": _usage(reply.text)}
            await _send(response, usage_chunk)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


@pytest.fixture
async def llm_stub() -> AsyncIterator[LLMStub]:
    async with LLMStub() as stub:
        yield stub


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection beyond the loopback interface fails the test (litellm must call nothing else)."""
    connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            assert ipaddress.ip_address(address[0]).is_loopback, f"network call to {address}"
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


async def _send(response: web.StreamResponse, payload: dict[str, Any]) -> None:
    await response.write(f"data: {json.dumps(payload)}\n\n".encode())


def _usage(text: str) -> dict[str, int]:
    completion_tokens = len(text.split())
    return {"prompt_tokens": 10, "completion_tokens": completion_tokens, "total_tokens": 10 + completion_tokens}


def _chunk(completion_id: str, model: str, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": _usage(text),
    }
