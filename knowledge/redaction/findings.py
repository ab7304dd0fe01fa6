"""A secret found in a text: where it is and what kind it is."""

from __future__ import annotations

import string
from dataclasses import dataclass

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


@dataclass(frozen=True, order=True)
class Finding:
    """`text[start:end]` is a secret of `kind` ("AWS secret key"); `line` is 1-based.

    `by_name` is true when only a secret-ish name next to the value says it is a secret
    (`password = …`), so the placeholder filters read the whole line too.
    """

    start: int
    end: int
    kind: str
    line: int = 0
    by_name: bool = False


def line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def line_bounds(text: str, offset: int) -> tuple[int, int]:
    """The start and end offsets of the line holding `offset` (without its newline)."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return start, len(text) if end < 0 else end


def ascii_lower(text: str) -> str:
    """`text` with ASCII letters in lower case and every offset unchanged, for fast
    case-insensitive matching (a case-insensitive regex alternation is ten times slower)."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)  # "İ" lowers to two
