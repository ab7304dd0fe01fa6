"""Who may see what: the scope of one question, turned into an index filter.

A question's scope is the sources its conversation may use (the `[access]` policy:
policy.py, by channel, with DMs and the Messages tab apart) and whose restricted content
it may read (readers.py: in a DM the asker's Confluence account and groups; in a channel
nobody's, so only unrestricted content). scope.py puts the two together; the retriever
gets them as `SearchFilters`, applied inside the index query.

The scope depends only on the conversation (its channel, and in a DM its one person), so
every follow-up in a thread is answered in the scope of the thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.errors import LorebotError
from knowledge.index import SearchFilters


class NoSourcesHere(LorebotError):
    """The policy gives this conversation no source to answer from."""

    def __init__(self) -> None:
        super().__init__(
            "No source may be used in this conversation, so I can't answer here "
            "(lorebot's `[access]` policy opens none to it)."
        )


@dataclass(frozen=True)
class Scope:
    sources: tuple[str, ...]
    """Empty only when no source is configured: the index is answered from as it is (empty
    filters mean any source); a policy that opens none raises `NoSourcesHere` instead."""
    readers: frozenset[str]
    """Principals whose restricted content may be used; empty: unrestricted content only."""
    unmapped: bool = False
    """The asker's Confluence account could not be found: unrestricted content only."""

    @property
    def filters(self) -> SearchFilters:
        return SearchFilters(sources=self.sources, readers=self.readers)
