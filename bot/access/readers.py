"""Whose restricted content a person may read: Slack user → email → Confluence account and groups.

`users.info` gives the email (the app needs the `users:read.email` scope); each Confluence
source in the question's scope is asked for the account with that email (ConfluenceAccounts).
Both answers are cached per person for `cache_seconds`. Any failure (no email, no or several
matching accounts, Confluence down) leaves that source's restricted content out and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.access.ttl import TtlCache

logger = logging.getLogger(__name__)


class AccountDirectory(Protocol):
    async def principals(self, email: str) -> frozenset[str] | None:
        """The person's principals in one source; None when no account matches."""
        ...


@dataclass(frozen=True)
class Readers:
    principals: frozenset[str]
    unmapped: bool
    """Some source in scope could not map the person: its restricted content is left out."""


class SlackReaders:
    def __init__(
        self, client: AsyncWebClient, directories: Mapping[str, AccountDirectory], cache_seconds: float
    ) -> None:
        self.client = client
        self.directories = directories  # source name → its accounts
        self._emails: TtlCache[str, str | None] = TtlCache(cache_seconds)
        self._principals: TtlCache[tuple[str, str], frozenset[str] | None] = TtlCache(cache_seconds)

    async def readers(self, user_id: str, sources: Sequence[str]) -> Readers:
        principals: set[str] = set()
        unmapped = False
        for source in sources:
            directory = self.directories.get(source)
            if directory is None:  # not a source with restrictions (git)
                continue
            found = await self._mapped(user_id, source, directory)
            if found is None:
                unmapped = True
            else:
                principals |= found
        return Readers(frozenset(principals), unmapped)

    async def _mapped(self, user_id: str, source: str, directory: AccountDirectory) -> frozenset[str] | None:
        cached = self._principals.get((user_id, source))
        if cached is not None:
            return cached
        try:
            email = await self._email(user_id)
            found = await directory.principals(email) if email else None
        except Exception:  # Slack or Confluence failing: unrestricted content only
            logger.warning("cannot map Slack user %s to a %s account", user_id, source, exc_info=True)
            return None  # not cached: the next question tries again
        self._principals.put((user_id, source), found)
        return found

    async def _email(self, user_id: str) -> str | None:
        email = self._emails.get(user_id)
        if email is None:
            profile = (await self.client.users_info(user=user_id))["user"].get("profile") or {}
            email = profile.get("email")
            if not email:
                logger.info("Slack user %s has no visible email (is the users:read.email scope granted?)", user_id)
            self._emails.put(user_id, email)
        return email
