"""Confluence read restrictions: who may open a page, the page's own and inherited.

Confluence (Cloud and Data Center alike, REST v1) lets a page restrict viewing to some
users and groups; a page under a view-restricted page inherits that restriction, so a
reader must be allowed by the page **and** by every restricted ancestor. Each piece of
content's own read restriction comes in one shape from two places:

- `GET /rest/api/content/{id}?expand=restrictions.read.restrictions.user,restrictions.read.restrictions.group`
  (also on the space listing): `content["restrictions"]["read"]`;
- `GET /rest/api/content/{id}/restriction/byOperation/read`: the body itself;

both `{"operation": "read", "restrictions": {"user": {"results": [...]}, "group": {"results": [...]}}}`.
Users are named by `accountId` on Cloud, `userKey` (else `username`) on Data Center; groups
by `name`. Principals are qualified by the source's name (knowledge/restrictions.py).

A restriction change does not bump a page's version, so the version lorebot records for a
restricted page carries a digest of its effective restrictions (`5:1a2b…`): a change shows
up in the next listing as a new version, and the page is stored again (unchanged chunks
keep their vectors).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from knowledge.restrictions import Restrictions, canonical, encode

READ_EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
BY_OPERATION_EXPAND = "restrictions.user,restrictions.group"


def user_principal(source: str, user_id: str) -> str:
    return f"{source}/user:{user_id}"


def group_principal(source: str, group: str) -> str:
    return f"{source}/group:{group}"


def user_id(user: Mapping[str, Any]) -> str | None:
    """A Confluence user's id: `accountId` (Cloud), else `userKey` or `username` (Data Center)."""
    return user.get("accountId") or user.get("userKey") or user.get("username")


def own_restriction(source: str, read: Mapping[str, Any] | None) -> frozenset[str] | None:
    """The principals one read restriction names; None when it restricts nothing."""
    restrictions = (read or {}).get("restrictions") or {}
    users = ((restrictions.get("user") or {}).get("results")) or []
    groups = ((restrictions.get("group") or {}).get("results")) or []
    named = {user_principal(source, uid) for uid in map(user_id, users) if uid}
    named |= {group_principal(source, group["name"]) for group in groups if group.get("name")}
    return frozenset(named) or None


def versioned(number: str, restrictions: Restrictions) -> str:
    """The version recorded for a page: its number, plus a digest of its restrictions."""
    if not restrictions:
        return number
    return f"{number}:{hashlib.sha256(encode(restrictions).encode()).hexdigest()[:16]}"


def version_number(recorded: str | None) -> str | None:
    return recorded.split(":", 1)[0] if recorded else recorded


class RestrictionBook:
    """Each page's own read restriction, learnt once per sync cycle (from expanded content,
    else one `byOperation/read` call), and a page's effective restrictions from them."""

    def __init__(self, source: str, fetch: Callable[[str], Awaitable[Mapping[str, Any] | None]]) -> None:
        self.source = source
        self._fetch = fetch  # content id → its byOperation/read body; None when the content is gone
        self._own: dict[str, frozenset[str] | None] = {}

    def note(self, content: Mapping[str, Any]) -> None:
        """Remember the own restriction of content fetched with `READ_EXPAND`."""
        read = (content.get("restrictions") or {}).get("read")
        if read is not None:
            self._own[str(content["id"])] = own_restriction(self.source, read)

    async def effective(self, page_id: str, ancestor_ids: Sequence[str]) -> Restrictions:
        levels = []
        for content_id in (*ancestor_ids, page_id):
            if content_id not in self._own:
                body = await self._fetch(content_id)
                # An ancestor that vanished mid-cycle: nobody, until the next cycle sees the new tree.
                self._own[content_id] = frozenset() if body is None else own_restriction(self.source, body)
            own = self._own[content_id]
            if own is not None:
                levels.append(own)
        return canonical(levels)


def ancestor_ids(content: Mapping[str, Any]) -> list[str]:
    return [str(ancestor["id"]) for ancestor in content.get("ancestors") or [] if "id" in ancestor]
