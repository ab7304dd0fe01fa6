"""A Slack emulator on 127.0.0.1: the Web API methods lorebot uses and a socket-mode websocket.

Every Web API call is recorded; tests wait for calls with `wait_for` (event-driven, no
sleeps). The websocket pushes real-shaped envelopes (`hello`, `events_api` with
`event_id` and `retry_attempt`, `slash_commands`, `disconnect`) and records the acks.
Faults: 429 with `Retry-After`, API errors, dropped connections, a call held unanswered
until the test releases it (an answer in flight, for killing or stopping its replica).
With several connections open (replicas), `spread_events` sends each envelope to the next.

People and channels: `add_user` (with or without an email, as `users.info` shows it under
`profile.email`) and `add_channel` (`conversations.info`: name, `is_im`). A channel id not
added answers like a public channel named "general", or a DM when it starts with "D".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

Predicate = Callable[["Call"], bool]


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    times: int = 1


class FakeSlack:
    def __init__(
        self,
        bot_token: str = "xoxb-test-token",
        app_token: str = "xapp-test-token",
        team_id: str = "T0TEAM",
        bot_user_id: str = "U0LOREBOT",
        bot_id: str = "B0LOREBOT",
        echo_bot_messages: bool = True,
        spread_events: bool = False,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.api_app_id = "A0LOREBOT"
        self.echo_bot_messages = echo_bot_messages
        self.spread_events = spread_events
        self._pushed = itertools.count()
        self._holds: dict[str, int] = {}
        self._released = asyncio.Event()
        self._lost = False
        self.calls: list[Call] = []
        self.acks: dict[str, tuple[float, dict[str, Any]]] = {}
        self.sent_at: dict[str, float] = {}
        self.connections = 0
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}  # channel → ts → message
        self.users: dict[str, dict[str, Any]] = {}  # user id → users.info "user"
        self.channels: dict[str, dict[str, Any]] = {}  # channel id → conversations.info "channel"
        self._faults: dict[str, list[Fault]] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task[str]] = set()
        self.port = 0

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads conversations.info, users.info, replies by GET
        app.router.add_get("/link/", self._socket)
        app.router.add_post("/response/{id}", self._response_url)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # ---------------------------------------------------------------- faults

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error}`."""
        self._faults.setdefault(method, []).append(Fault(error=error, times=times))

    def rate_limit(self, method: str, retry_after: int = 0, times: int = 1) -> None:
        self._faults.setdefault(method, []).append(
            Fault(error="ratelimited", status=429, retry_after=retry_after, times=times)
        )

    def hold(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` get no answer until `release()`."""
        self._holds[method] = self._holds.get(method, 0) + times

    def release(self, lost: bool = False) -> None:
        """Answer the held calls: as usual, or (`lost`) with a 500 and no effect, as for a request
        whose sender died before Slack got it."""
        self._lost = lost
        self._released.set()

    async def drop_connections(self) -> None:
        """Close every socket from the server side, as a network failure or Slack restart would."""
        for socket in list(self._sockets):
            await socket.close()

    async def request_refresh(self) -> None:
        await self._push({"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "fake"}})

    # ---------------------------------------------------------------- waiting

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 15, where: Predicate | None = None
    ) -> list[Call]:
        """The first `count` calls of `method` (matching `where`), waiting until they arrive."""

        def matching() -> list[Call]:
            return [c for c in self.calls if c.method == method and (where is None or where(c))]

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(matching()) >= count), timeout)
        return matching()[:count]

    def calls_of(self, method: str, where: Predicate | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (where is None or where(c))]

    async def wait_connected(self, count: int = 1, timeout: float = 15) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.connections >= count and self._sockets), timeout)

    async def wait_open(self, count: int, timeout: float = 15) -> None:
        """Until exactly `count` socket-mode connections are open (one closing: a replica stopping)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self._sockets) == count), timeout)

    async def wait_ack(self, envelope_id: str, timeout: float = 15) -> dict[str, Any]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: envelope_id in self.acks), timeout)
        return self.acks[envelope_id][1]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---------------------------------------------------------------- events

    def add_user(self, user_id: str, email: str | None) -> None:
        profile = {"real_name": user_id.title(), "display_name": user_id.lower()}
        if email is not None:
            profile["email"] = email
        self.users[user_id] = {"id": user_id, "team_id": self.team_id, "name": user_id.lower(), "profile": profile}

    def add_channel(self, channel_id: str, name: str) -> None:
        self.channels[channel_id] = _channel(channel_id, name)

    def new_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def user_message(
        self,
        channel: str,
        text: str,
        user: str = "U0ALICE",
        thread_ts: str | None = None,
        channel_type: str = "channel",
        **extra: Any,
    ) -> dict[str, Any]:
        """A message a person posts (stored in the channel's history), as its `message` event."""
        ts = self.new_ts()
        event: dict[str, Any] = {
            "client_msg_id": str(uuid.uuid4()),
            "type": "message",
            "text": text,
            "user": user,
            "ts": ts,
            "team": self.team_id,
            "channel": channel,
            "event_ts": ts,
            "channel_type": channel_type,
            "blocks": [{"type": "rich_text", "block_id": "b1", "elements": []}],
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
            event["parent_user_id"] = self.bot_user_id
        event.update(extra)
        self.messages.setdefault(channel, {})[ts] = dict(event)
        return event

    def mention_of(self, message: dict[str, Any]) -> dict[str, Any]:
        """The `app_mention` event Slack sends alongside the `message` event of a mention."""
        keys = ("client_msg_id", "text", "user", "ts", "team", "channel", "event_ts", "thread_ts", "blocks")
        return {"type": "app_mention", **{k: message[k] for k in keys if k in message}}

    def reaction(
        self, channel: str, ts: str, reaction: str, user: str = "U0ALICE", added: bool = True
    ) -> dict[str, Any]:
        item_user = self.messages.get(channel, {}).get(ts, {}).get("user")
        return {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": reaction,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "item_user": item_user,
            "event_ts": self.new_ts(),
        }

    async def send_event(self, event: dict[str, Any], event_id: str | None = None, retry_attempt: int = 0) -> str:
        """Push an `events_api` envelope; returns its envelope id."""
        envelope_id = str(uuid.uuid4())
        await self._push(
            {
                "envelope_id": envelope_id,
                "payload": {
                    "token": "verification-token",
                    "team_id": self.team_id,
                    "api_app_id": self.api_app_id,
                    "event": event,
                    "type": "event_callback",
                    "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
                    "event_time": int(time.time()),
                    "authorizations": [
                        {
                            "enterprise_id": None,
                            "team_id": self.team_id,
                            "user_id": self.bot_user_id,
                            "is_bot": True,
                            "is_enterprise_install": False,
                        }
                    ],
                    "is_ext_shared_channel": False,
                    "event_context": f"4-{uuid.uuid4().hex}",
                },
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return envelope_id

    async def send_command(
        self, text: str, channel: str = "C0GENERAL", user: str = "U0ALICE", command: str = "/ask"
    ) -> str:
        envelope_id = str(uuid.uuid4())
        await self._push(
            {
                "envelope_id": envelope_id,
                "payload": {
                    "token": "verification-token",
                    "team_id": self.team_id,
                    "team_domain": "lorebot-test",
                    "channel_id": channel,
                    "channel_name": "general",
                    "user_id": user,
                    "user_name": "alice",
                    "command": command,
                    "text": text,
                    "api_app_id": self.api_app_id,
                    "is_enterprise_install": "false",
                    "response_url": f"http://127.0.0.1:{self.port}/response/{envelope_id}",
                    "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:12]}",
                },
                "type": "slash_commands",
                "accepts_response_payload": True,
            }
        )
        return envelope_id

    async def _push(self, envelope: dict[str, Any]) -> None:
        await self.wait_connected()
        if "envelope_id" in envelope:
            self.sent_at[envelope["envelope_id"]] = time.monotonic()
        socket = self._sockets[next(self._pushed) % len(self._sockets)] if self.spread_events else self._sockets[-1]
        await socket.send_str(json.dumps(envelope))

    # ---------------------------------------------------------------- websocket

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        self.connections += 1
        await socket.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "debug_info": {"host": "fake-applink", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.api_app_id},
                }
            )
        )
        await self._notify()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    ack = json.loads(message.data)
                    self.acks[ack["envelope_id"]] = (time.monotonic(), ack)
                    await self._notify()
        finally:
            self._sockets.remove(socket)
            await self._notify()
        return socket

    # ---------------------------------------------------------------- Web API

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        else:
            for key, value in (await request.post()).items():
                args[key] = (
                    json.loads(value) if key in ("blocks", "prompts", "view") and isinstance(value, str) else value
                )
        return args

    async def _response_url(self, request: web.Request) -> web.Response:
        self.calls.append(Call("response_url", await request.json(), None))
        await self._notify()
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or args.pop("token", None)
        self.calls.append(Call(method, args, token))
        await self._notify()
        if self._holds.get(method):
            self._holds[method] -= 1
            await self._released.wait()
            if self._lost:
                return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
        faults = self._faults.get(method)
        if faults:
            fault = faults[0]
            fault.times -= 1
            if fault.times <= 0:
                faults.pop(0)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.json_response({"ok": False, "error": fault.error}, status=fault.status, headers=headers)
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        body = handler(args) if handler else {"ok": False, "error": "unknown_method"}
        if method == "chat.postMessage" and body.get("ok") and self.echo_bot_messages and self._sockets:
            channel_type = "im" if args["channel"].startswith("D") else "channel"
            echo = dict(body["message"], channel=args["channel"], channel_type=channel_type)
            task = asyncio.get_running_loop().create_task(self.send_event(echo))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return web.json_response(body)

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://lorebot-test.slack.com/",
            "team": "Lorebot Test",
            "user": "lorebot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4()}&app_id={self.api_app_id}"}

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = self.new_ts()
        message = {
            "type": "message",
            "text": args.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "ts": ts,
            "team": self.team_id,
            "blocks": args.get("blocks", []),
        }
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        self.messages.setdefault(args["channel"], {})[ts] = message
        return {"ok": True, "channel": args["channel"], "ts": ts, "message": message}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get(args["channel"], {}).get(args["ts"])
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.update(text=args.get("text", ""), blocks=args.get("blocks", []))
        return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": message["text"]}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.messages.get(args["channel"], {}).pop(args["ts"], None) is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": args["channel"], "ts": args["ts"]}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self.new_ts()}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "messages": self.thread(args["channel"], args["ts"]), "has_more": False}

    def _assistant_threads_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _assistant_threads_setSuggestedPrompts(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(args.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = args.get("channel", "")
        if channel_id in self.channels:
            return {"ok": True, "channel": self.channels[channel_id]}
        if channel_id.startswith("D"):
            return {"ok": True, "channel": {"id": channel_id, "is_im": True, "user": "U0ALICE", "is_open": True}}
        return {"ok": True, "channel": _channel(channel_id, "general")}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": args.get("view", {})}

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The thread's current messages (after updates and deletions), oldest first."""
        in_channel = self.messages.get(channel, {})
        return [m for ts, m in sorted(in_channel.items()) if ts == thread_ts or m.get("thread_ts") == thread_ts]


def _channel(channel_id: str, name: str) -> dict[str, Any]:
    return {
        "id": channel_id,
        "name": name,
        "is_channel": True,
        "is_im": False,
        "is_private": False,
        "is_member": True,
    }
