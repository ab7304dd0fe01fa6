"""Confluence spaces as a source: pages (and blog posts) in storage format.

Talks REST v1 (`/rest/api/...`), which Cloud (under `/wiki`) and Server/Data Center both
serve, through atlassian-python-api's Server client (its Cloud client targets REST v2);
the client is synchronous, so every call runs in a thread. Cloud authenticates with
username + API token, Server/DC with a personal access token (`token`).

**Cursor**: the newest `version.when` (ISO 8601, UTC) among the pages handled so far.
Each cycle searches `space in (…) and type = page and lastmodified >= "<cursor − margin>"
order by lastmodified` and yields a `Checkpoint` after every page of results, so a crash
resumes near where it stopped; results come oldest first, so everything before a
checkpoint has been yielded. A listed page whose version equals the indexed one is not
fetched.

**Deletions and anything the search missed**: every cycle lists the ids and versions of
the current pages of each space (`/rest/api/content?spaceKey=…`, no bodies: one call per
100–200 pages, as the server allows). That listing is read from the database, not the search index, and it
excludes trashed, archived, deleted and moved-away pages, so yielding it as a `Listing`
removes all of those in the cycle they are noticed, which a change search cannot see at
all. It also reconciles: a listed page whose version differs from what is indexed and
the search did not return (search-index lag, the searching user's time zone applied to
CQL dates, results shifting between pages of a long scan) is fetched in the same cycle.

**Restrictions**: each page's effective read restrictions (its own and its ancestors',
users and groups) are stored with its chunks; confluence_restrictions.py says how they are
read and how a change of restrictions alone is noticed (the listing carries them).

**Faults**: 429 waits for `Retry-After`; 5xx, timeouts and dropped connections back off
exponentially; after `max_retries` retries the sync stops with `SourceError` and the
next cycle resumes from the last checkpoint. Wrong credentials, an unknown space or an
unreachable host raise `SourceConfigError` naming the setting to check.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlparse

import requests
from atlassian import Confluence
from atlassian.errors import ApiError
from pydantic import Field, SecretStr
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from knowledge.documents import Document
from knowledge.sources import Change, Checkpoint, Deletion, Listing, SourceConfigError, SourceError
from knowledge.sources.confluence_restrictions import (
    BY_OPERATION_EXPAND,
    READ_EXPAND,
    RestrictionBook,
    ancestor_ids,
    version_number,
    versioned,
)
from knowledge.sources.connectors import Connector, SourceConfig, SourceContext

logger = logging.getLogger(__name__)

SEARCH_LIMIT = 100
LIST_LIMIT = 200
PAGE_EXPAND = f"body.storage,version,ancestors,space,{READ_EXPAND}"
LIST_EXPAND = f"version,ancestors,{READ_EXPAND}"
MAX_RETRY_AFTER = 300.0  # a longer Retry-After stops the sync; the next cycle resumes
MAX_BACKOFF = 30.0


class _NotFound(Exception):
    def __init__(self, json: bool) -> None:
        super().__init__("not found")
        self.json = json  # a JSON 404 is Confluence saying no; anything else is not Confluence


class ConfluenceSource:
    kind = "confluence"

    def __init__(
        self,
        name: str,
        url: str,
        spaces: Sequence[str],
        *,
        username: str | None = None,
        api_token: str | None = None,
        token: str | None = None,
        include_blogposts: bool = False,
        timeout: float = 30,
        max_retries: int = 5,
        safety_margin_minutes: int = 5,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.spaces = tuple(spaces)
        self.username, self.api_token, self.token = username, api_token, token
        self.types = ("page", "blogpost") if include_blogposts else ("page",)
        self.timeout = timeout
        self.max_retries = max_retries
        self.margin = timedelta(minutes=safety_margin_minutes)
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep  # between retries; a test passes one that records instead of waiting
        host = urlparse(self.url).hostname or ""
        self.deployment = "cloud" if not token and host.endswith(".atlassian.net") else "server"
        self._client: Confluence | None = None
        self._reached = False

    @property
    def _credential_settings(self) -> str:
        return "CONFLUENCE_TOKEN" if self.token else "CONFLUENCE_USERNAME and CONFLUENCE_API_TOKEN"

    async def changes(self, cursor: str | None, indexed: Mapping[str, str]) -> AsyncIterator[Change]:
        client = self._connect()
        for key in self.spaces:
            await self._check_space(client, key)
        newest = _parse_cursor(cursor)
        since = newest - self.margin if newest else None
        yielded: dict[str, str] = {}
        book = RestrictionBook(self.name, self._own_restriction)
        # First, so that every page's own restriction is known before any page is fetched.
        listed = await self._list(client, book)

        async for results in self._paged(
            client, "rest/api/content/search", {"cql": self._cql(since), "limit": SEARCH_LIMIT, "expand": "version"}
        ):
            for result in results:
                page_id, version = str(result["id"]), _version(result)
                when = _when(result)
                if when and (newest is None or when > newest):
                    newest = when
                if page_id in yielded or version_number(indexed.get(page_id)) == version:
                    continue  # unchanged text; a change of restrictions alone is caught from the listing below
                change = await self._fetch(client, page_id, indexed, book)
                if change is not None:
                    yielded[page_id] = change.version if isinstance(change, Document) else ""
                    yield change
            if newest:
                yield Checkpoint(_format(newest))

        for page_id, version in listed.items():
            if version != yielded.get(page_id, indexed.get(page_id)):
                change = await self._fetch(client, page_id, indexed, book)
                if change is not None:
                    yield change
        yield Listing(frozenset(listed))
        yield Checkpoint(_format(newest or datetime.now(UTC)))

    def _connect(self) -> Confluence:
        if not self.token and not (self.username and self.api_token):
            raise SourceConfigError(
                "Confluence credentials are missing: set CONFLUENCE_USERNAME and CONFLUENCE_API_TOKEN "
                "(Cloud) or CONFLUENCE_TOKEN (Server/Data Center)."
            )
        if self._client is None:
            auth: dict[str, Any] = (
                {"token": self.token} if self.token else {"username": self.username, "password": self.api_token}
            )
            # Our own retries (below) replace the client's: one place, bounded, Retry-After honoured.
            self._client = Confluence(
                self.url,
                cloud=False,
                timeout=max(1, round(self.timeout)),
                retry_with_header=False,
                backoff_and_retry=False,
                **auth,
            )
        return self._client

    def _cql(self, since: datetime | None) -> str:
        spaces = ", ".join(f'"{key}"' for key in self.spaces)
        types = self.types[0] if len(self.types) == 1 else f"({', '.join(self.types)})"
        clauses = [f"space in ({spaces})", f"type {'=' if len(self.types) == 1 else 'in'} {types}"]
        if since:
            clauses.append(f'lastmodified >= "{since.strftime("%Y-%m-%d %H:%M")}"')
        return " and ".join(clauses) + " order by lastmodified"

    async def _check_space(self, client: Confluence, key: str) -> None:
        try:
            space = await self._call(f"space {key}", client.get_space, key)
        except _NotFound as exc:
            if not exc.json:
                raise self._not_confluence() from None
            raise SourceConfigError(
                f"Confluence space {key} does not exist or is not visible to these credentials: "
                "check CONFLUENCE_SPACES."
            ) from None
        if not isinstance(space, dict):
            raise self._not_confluence()

    def _not_confluence(self) -> SourceConfigError:
        return SourceConfigError(f"{self.url} does not answer like Confluence's REST API: check CONFLUENCE_URL.")

    async def _paged(self, client: Confluence, path: str, params: dict[str, Any]) -> AsyncIterator[list[dict]]:
        """Pages of results, following `_links.next` (offsets on Server, cursors on Cloud)."""
        next_path: str | None = path
        while next_path:
            try:
                body = await self._call(path, client.get, next_path, params=params)
            except _NotFound:
                raise self._not_confluence() from None
            if not isinstance(body, dict):
                raise self._not_confluence()
            yield list(body.get("results", []))
            next_path = (body.get("_links") or {}).get("next")
            if next_path:
                next_path, params = next_path.lstrip("/"), {}

    async def _list(self, client: Confluence, book: RestrictionBook) -> dict[str, str]:
        """Every current page's recorded version (its number and restrictions digest)."""
        listed: dict[str, Mapping[str, Any]] = {}
        for key in self.spaces:
            for content_type in self.types:
                params = {"spaceKey": key, "type": content_type, "limit": LIST_LIMIT, "expand": LIST_EXPAND}
                async for results in self._paged(client, "rest/api/content", params):
                    for result in results:
                        book.note(result)
                        if result.get("status", "current") == "current":
                            listed[str(result["id"])] = result
        return {
            page_id: versioned(_version(page), await book.effective(page_id, ancestor_ids(page)))
            for page_id, page in listed.items()
        }

    async def _own_restriction(self, content_id: str) -> Mapping[str, Any] | None:
        path = f"rest/api/content/{content_id}/restriction/byOperation/read"
        body = await self.get(f"restrictions of {content_id}", path, {"expand": BY_OPERATION_EXPAND})
        return body if isinstance(body, dict) else None

    async def get(self, what: str, path: str, params: Mapping[str, Any]) -> Any:
        """One GET of the REST API with this source's credentials and retries; None for a 404."""
        client = self._connect()
        try:
            return await self._call(what, client.get, path, params=dict(params))
        except _NotFound:
            return None

    async def _fetch(
        self, client: Confluence, page_id: str, indexed: Mapping[str, str], book: RestrictionBook
    ) -> Change | None:
        """The page as a Document; a Deletion when it is gone or out of scope; None if never indexed."""
        try:
            page = await self._call(f"page {page_id}", client.get_page_by_id, page_id, expand=PAGE_EXPAND)
        except _NotFound:
            page = None
        space = (page or {}).get("space") or {}
        if page is None or page.get("status", "current") != "current" or space.get("key") not in self.spaces:
            return Deletion(page_id) if page_id in indexed else None
        title = page.get("title", "")
        ancestors = tuple(a.get("title", "") for a in page.get("ancestors") or [])
        book.note(page)
        restrictions = await book.effective(page_id, ancestor_ids(page))
        return Document(
            source=self.name,
            external_id=page_id,
            kind="page",
            title=title,
            url=self.url + page["_links"]["webui"],
            content=page.get("body", {}).get("storage", {}).get("value", ""),
            version=versioned(_version(page), restrictions),
            format="confluence_storage",
            path="/".join((space["key"], *ancestors, title)),
            breadcrumb=(space.get("name") or space["key"], *ancestors, title),
            deployment=self.deployment,
            restrictions=restrictions,
        )

    async def _call(self, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(_transient),
            before_sleep=_log_retry,
            reraise=True,
            sleep=self._sleep,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    result = await asyncio.to_thread(function, *args, **kwargs)
        except (requests.RequestException, ApiError) as exc:
            raise self._explain(what, exc) from exc
        self._reached = True
        return result

    def _wait(self, state: RetryCallState) -> float:
        retry_after = _retry_after(state.outcome.exception() if state.outcome else None)
        if retry_after is not None:
            return retry_after
        backoff = self.backoff_seconds * 2 ** (state.attempt_number - 1)
        return min(MAX_BACKOFF, backoff) + random.uniform(0, self.backoff_seconds)

    def _explain(self, what: str, exc: Exception) -> Exception:
        status, response = _status(exc)
        attempts = f"after {self.max_retries + 1} attempts"
        if status == 404:
            return _NotFound("json" in (response.headers.get("Content-Type", "") if response is not None else ""))
        if status in (401, 403):
            return SourceConfigError(
                f"Confluence refused the credentials (HTTP {status}): check {self._credential_settings}."
            )
        if status == 429:
            wait = _retry_after(exc)
            if wait is not None and wait > MAX_RETRY_AFTER:
                return SourceError(f"Confluence asked to wait {wait:.0f} s before {what} (HTTP 429).")
            return SourceError(f"Confluence kept rate-limiting requests for {what} (HTTP 429) {attempts}.")
        if status is not None and status >= 500:
            return SourceError(f"Confluence answered HTTP {status} for {what} {attempts}.")
        if status is not None:
            return SourceError(f"Confluence refused {what} (HTTP {status}): {exc}")
        if isinstance(exc, requests.Timeout):
            return SourceError(f"Confluence did not answer {what} within {self.timeout:g} s {attempts}.")
        if isinstance(exc, requests.ConnectionError) and not self._reached:
            return SourceConfigError(f"Cannot reach Confluence at {self.url}: check CONFLUENCE_URL.")
        return SourceError(f"Confluence request for {what} failed {attempts}: {exc}")


def _status(exc: BaseException) -> tuple[int | None, requests.Response | None]:
    if isinstance(exc, ApiError) and isinstance(exc.reason, requests.HTTPError):
        exc = exc.reason
    response = getattr(exc, "response", None)
    return (response.status_code if response is not None else None), response


def _retry_after(exc: BaseException | None) -> float | None:
    status, response = _status(exc) if exc else (None, None)
    if status != 429 or response is None:
        return None
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def _transient(exc: BaseException) -> bool:
    status, _ = _status(exc)
    if status == 429:
        retry_after = _retry_after(exc)
        return retry_after is None or retry_after <= MAX_RETRY_AFTER
    if status is not None:
        return status >= 500
    return isinstance(exc, (requests.Timeout, requests.ConnectionError))


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    logger.info(
        "confluence request failed (%s); retry %d in %.1f s",
        exc,
        state.attempt_number,
        state.next_action.sleep if state.next_action else 0.0,
    )


def _version(content: Mapping[str, Any]) -> str:
    return str((content.get("version") or {}).get("number", ""))


def _when(content: Mapping[str, Any]) -> datetime | None:
    value = (content.get("version") or {}).get("when")
    try:
        return datetime.fromisoformat(value).astimezone(UTC) if value else None
    except ValueError:
        return None


def _parse_cursor(cursor: str | None) -> datetime | None:
    if not cursor:
        return None
    try:
        return datetime.fromisoformat(cursor).astimezone(UTC)
    except ValueError:
        logger.warning("ignoring unreadable Confluence cursor %r: syncing everything", cursor)
        return None


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class ConfluenceConfig(SourceConfig):
    """A `[[sources]]` entry of kind "confluence"; the CONFLUENCE_* settings fill what it leaves out."""

    kind: Literal["confluence"]
    url: str | None = None
    username: str | None = None
    api_token: SecretStr | None = None
    token: SecretStr | None = None
    spaces: list[str] = Field(default_factory=list)
    include_blogposts: bool = False


def _build(config: ConfluenceConfig, name: str, context: SourceContext) -> ConfluenceSource:
    """The one place a Confluence entry's settings are checked."""
    if not config.url:
        raise SourceConfigError(f"Confluence source {name} has no address: set CONFLUENCE_URL.")
    spaces = [key.strip() for key in config.spaces if key.strip()]
    if not spaces:
        raise SourceConfigError(
            f"Confluence source {name} lists no spaces: set CONFLUENCE_SPACES (space keys, comma-separated)."
        )
    return ConfluenceSource(
        name,
        config.url,
        spaces,
        username=config.username,
        api_token=config.api_token.get_secret_value() if config.api_token else None,
        token=config.token.get_secret_value() if config.token else None,
        include_blogposts=config.include_blogposts,
    )


CONNECTOR = Connector("confluence", ConfluenceConfig, _build, lambda config: "confluence")
