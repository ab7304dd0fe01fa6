"""A Confluence REST v1 emulator on 127.0.0.1 for the real atlassian-python-api client.

Serves spaces and storage-format pages: `/rest/api/space/{key}`, `/rest/api/content/{id}`,
`/rest/api/content` (space listing) and `/rest/api/content/search` (CQL with
`space in (…)`, `type`, `lastmodified >= "…"`, `order by lastmodified`), paged with
`start`/`limit` and `_links.next`, limits capped at 100 like Confluence's.

Read restrictions, users and groups as REST v1 returns them: `restrict(page, users=…,
groups=…)` sets a page's own view restriction (children inherit it, as in Confluence),
served by `/rest/api/content/{id}/restriction/byOperation/read` and by
`expand=restrictions.read.restrictions.user,restrictions.read.restrictions.group`;
`add_user` with an email and groups, found by `/rest/api/search/user?cql=user.fullname~"…"`
(a hidden email comes back null, like Cloud's privacy setting) and
`/rest/api/user/memberof`. `deployment="cloud"` names users by `accountId`, "server"
(Data Center) by `userKey` and `username`. Runs its own
event loop in a thread, so a blocking caller (the sync client, a CLI runner) can use it.
Tests program faults (`fail`), change pages between syncs, and read `requests`.
CQL dates are read as UTC.
"""

from __future__ import annotations

import asyncio
import base64
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, urlencode

from aiohttp import web

MAX_LIMIT = 100


@dataclass
class FakePage:
    id: str
    space: str
    title: str
    body: str
    when: datetime
    version: int = 1
    parent: str | None = None
    status: str = "current"  # current | trashed | archived
    type: str = "page"
    read_users: list[str] = field(default_factory=list)  # user ids (accountId / userKey)
    read_groups: list[str] = field(default_factory=list)


@dataclass
class FakeUser:
    id: str  # accountId on Cloud, userKey on Data Center
    username: str
    email: str
    groups: list[str] = field(default_factory=list)
    email_visible: bool = True


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    status: int


@dataclass
class Fault:
    """The next matching request answers `status` (after `delay` seconds); 0 = answer normally, late."""

    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    path: str = ""


@dataclass
class FakeConfluence:
    username: str = "bot@example.com"
    api_token: str = "api-token"
    token: str = "pat-token"
    spaces: dict[str, str] = field(default_factory=dict)
    pages: dict[str, FakePage] = field(default_factory=dict, repr=False)
    requests: list[Recorded] = field(default_factory=list, repr=False)
    users: dict[str, FakeUser] = field(default_factory=dict)
    deployment: str = "cloud"  # or "server": how users are named
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._held = threading.Event()  # set: answering; `hold` clears it
        self._held.set()
        self._next_id = 1000
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- content -------------------------------------------------------------------------

    def add_space(self, key: str, name: str) -> None:
        with self._lock:
            self.spaces[key] = name

    def add_page(
        self,
        space: str,
        title: str,
        body: str,
        *,
        parent: str | None = None,
        when: datetime | None = None,
        type: str = "page",
    ) -> FakePage:
        with self._lock:
            self._next_id += 1
            page = FakePage(str(self._next_id), space, title, body, when or _now(), parent=parent, type=type)
            self.pages[page.id] = page
            return page

    def edit_page(self, page_id: str, body: str | None = None, title: str | None = None) -> FakePage:
        with self._lock:
            page = self.pages[page_id]
            page.body = page.body if body is None else body
            page.title = page.title if title is None else title
            page.version += 1
            page.when = _now()
            return page

    def restrict(self, page_id: str, users: list[str] | None = None, groups: list[str] | None = None) -> None:
        """Set the page's own view restriction (empty lists: none); its version stays, as in Confluence."""
        with self._lock:
            page = self.pages[page_id]
            page.read_users, page.read_groups = list(users or ()), list(groups or ())

    def add_user(
        self,
        user_id: str,
        email: str,
        groups: list[str] | None = None,
        *,
        email_visible: bool = True,
        username: str | None = None,
    ) -> FakeUser:
        with self._lock:
            user = FakeUser(user_id, username or email.split("@")[0], email, list(groups or ()), email_visible)
            self.users[user_id] = user
            return user

    def delete_page(self, page_id: str) -> None:
        with self._lock:
            del self.pages[page_id]

    def set_status(self, page_id: str, status: str) -> None:
        """Trash or archive a page ("trashed", "archived"); Confluence keeps its version."""
        with self._lock:
            self.pages[page_id].status = status

    def move_page(self, page_id: str, space: str) -> None:
        with self._lock:
            self.pages[page_id].space, self.pages[page_id].parent = space, None

    def fail(
        self, count: int = 1, status: int = 500, *, retry_after: str | None = None, delay: float = 0.0, path: str = ""
    ) -> None:
        with self._lock:
            self._faults.extend(Fault(status, retry_after, delay, path) for _ in range(count))

    def hold(self) -> None:
        """From now on every request waits, until `release()`: a Confluence that stopped answering."""
        self._held.clear()

    def release(self) -> None:
        """Answer the waiting requests, and every later one."""
        self._held.set()

    def calls(self, path: str = "") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path in r.path]

    def reset_calls(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- server ---------------------------------------------------------------------------

    def start(self) -> FakeConfluence:
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-confluence", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread:
                self._thread.join(10)
            self._loop.close()

    def __enter__(self) -> FakeConfluence:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/rest/api/space/{key}", self._space)
        app.router.add_get("/rest/api/content/search", self._search)
        app.router.add_get("/rest/api/content/{id}/restriction/byOperation/read", self._read_restriction)
        app.router.add_get("/rest/api/search/user", self._search_user)
        app.router.add_get("/rest/api/user/memberof", self._member_of)
        app.router.add_get("/rest/api/content/{id}", self._content)
        app.router.add_get("/rest/api/content", self._list)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)  # stop() cuts a programmed delay short
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        while not self._held.is_set():  # set from the test's thread
            await asyncio.sleep(0.05)
        with self._lock:
            fault = next((f for f in self._faults if f.path in request.path), None)
            if fault:
                self._faults.remove(fault)
        if fault and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault and fault.status:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            response: web.StreamResponse = web.json_response(
                {"statusCode": fault.status, "message": "programmed fault"}, status=fault.status, headers=headers
            )
        elif not self._authorized(request.headers.get("Authorization", "")):
            response = web.Response(status=401, text="Basic authentication with passwords is deprecated.")
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = exc
        with self._lock:
            self.requests.append(Recorded(request.method, request.path, dict(request.query), response.status))
        return response

    def _authorized(self, header: str) -> bool:
        if header == f"Bearer {self.token}":
            return True
        expected = base64.b64encode(f"{self.username}:{self.api_token}".encode()).decode()
        return header == f"Basic {expected}"

    async def _space(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        with self._lock:
            if key not in self.spaces:
                return _not_found(f"No space with key : {key}")
            return web.json_response({"key": key, "name": self.spaces[key], "type": "global"})

    async def _content(self, request: web.Request) -> web.Response:
        with self._lock:
            page = self.pages.get(request.match_info["id"])
            if page is None or page.status == "trashed":  # like Confluence without ?status=trashed
                return _not_found("No content found with id")
            return web.json_response(self._json(page, _expand(request)))

    async def _read_restriction(self, request: web.Request) -> web.Response:
        with self._lock:
            page = self.pages.get(request.match_info["id"])
            if page is None:
                return _not_found("No content found with id")
            return web.json_response(self._restriction_json(page))

    async def _search_user(self, request: web.Request) -> web.Response:
        match = re.fullmatch(r'\s*user\.fullname\s*~\s*"([^"]*)"\s*', request.query.get("cql", ""))
        if not match:
            return web.json_response({"statusCode": 400, "message": "Could not parse cql"}, status=400)
        wanted = match[1].lower()
        with self._lock:
            found = [u for u in self.users.values() if wanted in u.email.lower() or wanted in u.username.lower()]
            results = [{"user": self._user_json(u), "title": u.username, "entityType": "user"} for u in found]
        return web.json_response({"results": results, "start": 0, "limit": 25, "size": len(results)})

    async def _member_of(self, request: web.Request) -> web.Response:
        query = request.query
        key = query.get("accountId") if self.deployment == "cloud" else query.get("key")
        with self._lock:
            user = self.users.get(key or "")
            if user is None:
                return _not_found("No user found")
            groups = user.groups
        start, limit = int(query.get("start", 0)), min(int(query.get("limit", 200)), 200)
        page = [{"type": "group", "name": name, "id": f"id-{name}"} for name in groups[start : start + limit]]
        body: dict[str, Any] = {"results": page, "start": start, "limit": limit, "size": len(page), "_links": {}}
        if start + limit < len(groups):
            body["_links"]["next"] = f"/rest/api/user/memberof?{urlencode({**query, 'start': start + limit})}"
        return web.json_response(body)

    def _user_json(self, user: FakeUser) -> dict[str, Any]:
        if self.deployment == "cloud":
            return {
                "type": "known",
                "accountId": user.id,
                "accountType": "atlassian",
                "email": user.email if user.email_visible else None,
                "publicName": user.username,
                "displayName": user.username.title(),
            }
        return {"type": "known", "username": user.username, "userKey": user.id, "displayName": user.username.title()}

    def _restriction_json(self, page: FakePage) -> dict[str, Any]:
        users = [
            self._user_json(self.users[uid]) if uid in self.users else self._unknown(uid) for uid in page.read_users
        ]
        groups = [{"type": "group", "name": name, "id": f"id-{name}"} for name in page.read_groups]
        return {
            "operation": "read",
            "restrictions": {
                "user": {"results": users, "start": 0, "limit": 200, "size": len(users)},
                "group": {"results": groups, "start": 0, "limit": 200, "size": len(groups)},
            },
            "_expandable": {"content": f"/rest/api/content/{page.id}"},
            "_links": {"self": f"{self.url}/rest/api/content/{page.id}/restriction/byOperation/read"},
        }

    def _unknown(self, user_id: str) -> dict[str, Any]:
        key = "accountId" if self.deployment == "cloud" else "userKey"
        return {"type": "known", key: user_id}

    async def _list(self, request: web.Request) -> web.Response:
        query = request.query
        with self._lock:
            found = [
                p
                for p in self._ordered()
                if p.space == query.get("spaceKey") and p.type == query.get("type", "page") and p.status == "current"
            ]
            return self._paged(request, found)

    async def _search(self, request: web.Request) -> web.Response:
        try:
            matches = _cql_filter(request.query.get("cql", ""))
        except ValueError as exc:
            return web.json_response({"statusCode": 400, "message": str(exc)}, status=400)
        with self._lock:
            return self._paged(request, [p for p in self._ordered() if p.status == "current" and matches(p)])

    def _ordered(self) -> list[FakePage]:
        return sorted(self.pages.values(), key=lambda p: (p.when, int(p.id)))

    def _paged(self, request: web.Request, found: list[FakePage]) -> web.Response:
        start = int(request.query.get("start", 0))
        limit = min(int(request.query.get("limit", 25)), MAX_LIMIT)
        expand = _expand(request)
        body: dict[str, Any] = {
            "results": [self._json(p, expand) for p in found[start : start + limit]],
            "start": start,
            "limit": limit,
            "size": len(found[start : start + limit]),
            "_links": {"base": self.url, "context": ""},
        }
        if start + limit < len(found):
            query = {**request.query, "start": str(start + limit), "limit": str(limit)}
            body["_links"]["next"] = f"{request.path}?{urlencode(query)}"
        return web.json_response(body)

    def _json(self, page: FakePage, expand: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": page.id,
            "type": page.type,
            "status": page.status,
            "title": page.title,
            "_links": {
                "webui": f"/display/{page.space}/{quote_plus(page.title)}",
                "self": f"{self.url}/rest/api/content/{page.id}",
            },
        }
        if "version" in expand:
            out["version"] = {"number": page.version, "when": page.when.isoformat(timespec="milliseconds")}
        if "space" in expand:
            out["space"] = {"key": page.space, "name": self.spaces.get(page.space, page.space)}
        if "body.storage" in expand:
            out["body"] = {"storage": {"value": page.body, "representation": "storage"}}
        if "ancestors" in expand:
            chain, parent = [], page.parent
            while parent and parent in self.pages:
                chain.insert(0, {"id": parent, "type": "page", "title": self.pages[parent].title})
                parent = self.pages[parent].parent
            out["ancestors"] = chain
        if {"restrictions.read.restrictions.user", "restrictions.read.restrictions.group"} <= expand:
            out["restrictions"] = {
                "read": self._restriction_json(page),
                "_expandable": {"update": ""},
            }
        return out


def _now() -> datetime:
    return datetime.now(UTC)


def _expand(request: web.Request) -> set[str]:
    return {part.strip() for part in request.query.get("expand", "").split(",") if part.strip()}


def _not_found(message: str) -> web.Response:
    return web.json_response({"statusCode": 404, "message": message}, status=404)


_CLAUSES = {
    "space": re.compile(r'^space\s*(?:=\s*"?([\w~-]+)"?|in\s*\(([^)]*)\))$', re.I),
    "type": re.compile(r"^type\s*(?:=\s*(\w+)|in\s*\(([^)]*)\))$", re.I),
    "lastmodified": re.compile(r'^lastmodified\s*>=\s*"(\d{4}[-/]\d{2}[-/]\d{2} \d{2}:\d{2})"$', re.I),
}


def _cql_filter(cql: str) -> Any:
    """The subset of CQL the source speaks, as a predicate; anything else is a 400."""
    body = re.split(r"\s+order\s+by\s+", cql.strip(), flags=re.I)
    if len(body) == 2 and body[1].strip().lower() not in ("lastmodified", "lastmodified asc"):
        raise ValueError(f"unsupported order: {body[1]}")
    tests = []
    for clause in re.split(r"\s+and\s+", body[0], flags=re.I):
        clause = clause.strip()
        for name, pattern in _CLAUSES.items():
            match = pattern.match(clause)
            if match:
                tests.append((name, match))
                break
        else:
            raise ValueError(f"Could not parse cql : {clause}")

    def matches(page: FakePage) -> bool:
        for name, match in tests:
            if name == "lastmodified":
                since = datetime.strptime(match[1].replace("/", "-"), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
                if page.when < since:
                    return False
                continue
            allowed = {match[1]} if match[1] else {v.strip().strip('"') for v in match[2].split(",")}
            if (page.space if name == "space" else page.type) not in allowed:
                return False
        return True

    return matches


def days_ago(days: float) -> datetime:
    return _now() - timedelta(days=days)
