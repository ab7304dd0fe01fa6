"""Sources yield what changed since a cursor: documents, deletions and checkpoints.

A source never writes to the index or the database; the sync pipeline does. See
`README.md` beside this file for how to add a connector.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from knowledge.documents import Document
from knowledge.errors import LorebotError


@dataclass(frozen=True)
class Deletion:
    """The document with this external id is gone (deleted, moved out of scope, renamed away)."""

    external_id: str


@dataclass(frozen=True)
class Listing:
    """The complete set of external ids that exist now; anything else indexed is gone."""

    external_ids: frozenset[str]


@dataclass(frozen=True)
class Skipped:
    """A document deliberately not indexed (binary, too large, vendored, secret), with why."""

    external_id: str
    reason: str


@dataclass(frozen=True)
class Checkpoint:
    """Everything yielded before this is complete: the cursor may be stored."""

    cursor: str


@dataclass(frozen=True)
class Notice:
    """Something the person running the sync should read once in the summary."""

    text: str


Change = Document | Deletion | Listing | Skipped | Checkpoint | Notice


class SourceError(LorebotError):
    """The source cannot be synced now; the message is one sentence for a person."""


class SourceConfigError(SourceError):
    """Wrong or missing settings (credentials, unknown space, bad URL): says which setting to fix."""


class Source(Protocol):
    name: str
    kind: str

    def changes(self, cursor: str | None, indexed: Mapping[str, str]) -> AsyncIterator[Change]:
        """Yield what changed since `cursor` (None: everything), ending with a `Checkpoint`.

        `indexed` maps the external ids indexed now to their stored version, so a source
        can skip fetching what has not changed.
        """
        ...
