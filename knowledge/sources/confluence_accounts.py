"""A person's Confluence account and groups, found by email, as restriction principals.

`GET /rest/api/search/user?cql=user.fullname~"<email>"` finds candidates (Cloud and Data
Center 7.x+); only a user whose `email` is exactly that address is taken (Cloud hides the
email of people whose profile says so: they cannot be matched). Data Center's results carry
no email: there a user matches when their `username` is the address (directories that
log people in by email). Their groups come from
`GET /rest/api/user/memberof` (`accountId` on Cloud, `key` = userKey on Data Center), paged.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from knowledge.sources.confluence_restrictions import group_principal, user_id, user_principal

logger = logging.getLogger(__name__)

PAGE = 200


class RestApi(Protocol):
    name: str

    async def get(self, what: str, path: str, params: dict[str, Any]) -> Any: ...


class ConfluenceAccounts:
    """`principals(email)` for one Confluence source (its name qualifies them)."""

    def __init__(self, api: RestApi) -> None:
        self.api = api
        self.source = api.name

    async def principals(self, email: str) -> frozenset[str] | None:
        """The user and group principals of the account with this email; None when none matches."""
        found = await self.api.get(
            "user search", "rest/api/search/user", {"cql": f'user.fullname~"{email}"', "limit": 25}
        )
        wanted = email.strip().lower()
        users = [r.get("user") or {} for r in (found or {}).get("results", [])]
        matches = [u for u in users if wanted in _addresses(u) and user_id(u)]
        if len(matches) != 1:
            logger.info("%s: %d Confluence accounts have the asker's email", self.source, len(matches))
            return None
        user = matches[0]
        uid = user_id(user)
        assert uid is not None
        key = {"accountId": user["accountId"]} if user.get("accountId") else {"key": uid}
        principals = {user_principal(self.source, uid)}
        start = 0
        while True:
            page = await self.api.get(
                "group memberships", "rest/api/user/memberof", {**key, "start": start, "limit": PAGE}
            )
            results = (page or {}).get("results", [])
            principals |= {group_principal(self.source, g["name"]) for g in results if g.get("name")}
            if not results or not ((page or {}).get("_links") or {}).get("next"):
                return frozenset(principals)
            start += len(results)


def _addresses(user: dict[str, Any]) -> set[str]:
    return {str(user.get(key) or "").strip().lower() for key in ("email", "username")} - {""}
