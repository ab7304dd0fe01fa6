"""Who may read a chunk: its source's read restrictions, as levels of principals.

A principal is a string naming a user or a group the way the source names them
(`<source>/user:<id>`, `<source>/group:<name>`: qualified by the source, so two Confluence
sites never share an id). A document's `Restrictions` is a tuple of levels, one per page
in its ancestry that restricts reading: a reader must be named at **every** level (the
page's own restriction and each inherited one), by user or by one of their groups. No
levels: everyone who may use the source may read it.

Levels are canonical (sorted principals, no duplicates, no level implied by another) so
equal restrictions compare, hash and filter alike on every index backend. A document with
more than `MAX_LEVELS` distinct levels is readable by no one through a readers filter:
the Weaviate filter spells out each level count, and both backends answer the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

Restrictions = tuple[tuple[str, ...], ...]

UNRESTRICTED: Restrictions = ()
MAX_LEVELS = 8


def canonical(levels: Iterable[Iterable[str]]) -> Restrictions:
    """Levels sorted and deduplicated; a level that is a superset of another is dropped
    (anyone named in the smaller one is named in it). An empty level (a restriction that
    names nobody) is kept: it means nobody may read."""
    unique = {frozenset(level) for level in levels}
    kept = [level for level in unique if not any(other < level for other in unique)]
    return tuple(sorted(tuple(sorted(level)) for level in kept))


def readable(restrictions: Restrictions, readers: frozenset[str]) -> bool:
    """Whether a reader with these principals may read content with these restrictions."""
    if len(restrictions) > MAX_LEVELS:
        return False
    return all(any(principal in readers for principal in level) for level in restrictions)


def encode(restrictions: Restrictions) -> str:
    """A compact string for storage; empty for unrestricted content."""
    return json.dumps(restrictions, separators=(",", ":")) if restrictions else ""


def decode(text: str) -> Restrictions:
    return tuple(tuple(level) for level in json.loads(text)) if text else UNRESTRICTED
