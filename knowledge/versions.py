"""Docs kept for several major versions side by side (`docs/v1/…` beside `docs/v2/…`).

A repository that keeps the old version's pages answers every question twice, and the old
page often words it just as well. Among candidates that are the same path in different
version folders, the newest is the one the code in the repository matches; the others
count for less (`OLDER_VERSION_WEIGHT`, in the ranking stage).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath

_VERSION_FOLDER = re.compile(r"^(?:v|version[-_]?)?(\d+)(?:\.(?:\d+|x))*$", re.IGNORECASE)


def versioned(path: str) -> tuple[str, tuple[int, ...]] | None:
    """(the path with its version folders left out, their numbers), or None without one.

    Only folders count: `v2/flags.md` is versioned, `flag_v2.go` and `http2.md` are not."""
    parts = PurePosixPath(path).parts
    rest, numbers = [], []
    for part in parts[:-1]:
        match = _VERSION_FOLDER.match(part)
        if match and (part[0].isalpha() or "." in part):  # "2024" alone is a year folder, not a version
            numbers.append(int(match.group(1)))
        else:
            rest.append(part)
    if not numbers:
        return None
    return "/".join([*rest, parts[-1]]), tuple(numbers)


_ASKED_VERSION = re.compile(r"\b(?:v|version\s*)(\d+)\b", re.IGNORECASE)


def versions_asked_about(question: str) -> frozenset[int]:
    """Major versions the question names ("in v1, …", "version 2"): their pages keep full weight."""
    return frozenset(int(n) for n in _ASKED_VERSION.findall(question))


def older_versions(paths: Iterable[str], asked: frozenset[int] = frozenset()) -> set[str]:
    """The paths of which a newer version is among `paths`, unless the question asked for theirs."""
    newest: dict[str, tuple[int, ...]] = {}
    found: dict[str, tuple[str, tuple[int, ...]]] = {}
    for path in paths:
        key = versioned(path)
        if key is not None:
            found[path] = key
            newest[key[0]] = max(newest.get(key[0], key[1]), key[1])
    return {
        path for path, (base, numbers) in found.items() if numbers < newest[base] and not asked.intersection(numbers)
    }
