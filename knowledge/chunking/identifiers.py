"""Words for the keyword side of the index: identifiers split the way people say them.

`get_user_name`, `getUserName` → "get user name"; `HTTPServerError` → "http server error".
A question in plain words then finds code whose names only hold those words joined.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from functools import lru_cache

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# An acronym before a capitalised word, a (capitalised) word, an acronym, a number.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+[0-9]*|[A-Z]+[0-9]*|[0-9]+")
# Language keywords say nothing about what code does; they would only add noise. Keywords
# that are also words people ask with ("interface", "type", "default", "end", "new") stay.
_NOISE = frozenset(word.lower() for word in keyword.kwlist) | {
    "self",
    "cls",
    "def",
    "var",
    "let",
    "const",
    "function",
    "this",
    "func",
    "void",
    "public",
    "private",
    # Go, Java, C#, JavaScript/TypeScript, Rust, Ruby
    "nil",
    "null",
    "undefined",
    "iota",
    "defer",
    "fallthrough",
    "goto",
    "chan",
    "protected",
    "static",
    "final",
    "abstract",
    "extends",
    "implements",
    "instanceof",
    "throws",
    "synchronized",
    "volatile",
    "transient",
    "boolean",
    "bool",
    "int",
    "typeof",
    "keyof",
    "readonly",
    "override",
    "virtual",
    "sealed",
    "foreach",
    "fn",
    "pub",
    "impl",
    "mut",
    "mod",
    "crate",
    "dyn",
    "elsif",
    "unless",
}


def identifier_words(text: str) -> list[str]:
    """The lower-case words of an identifier (or of a path, or a dotted symbol)."""
    return [word.lower() for word in _WORD.findall(text)]


def split_identifiers(text: str) -> str:
    """The distinct words of the identifiers in `text`, in order of first use, space-separated."""
    words: dict[str, None] = {}
    for identifier in dict.fromkeys(_IDENTIFIER.findall(text)):
        words.update(dict.fromkeys(_useful_words(identifier)))
    return " ".join(words)


@lru_cache(maxsize=65536)
def _useful_words(identifier: str) -> tuple[str, ...]:
    return tuple(word for word in identifier_words(identifier) if len(word) > 1 and word not in _NOISE)


def chunk_keywords(path: str, symbol: str, text: str, extra: Iterable[str] = ()) -> str:
    """`Chunk.keywords`: the file path and its parts, the symbol path, the split identifiers."""
    terms: list[str] = []
    if path:
        terms.append(path)
        terms.extend(identifier_words(path))
    if symbol:
        terms.append(symbol)
        terms.extend(identifier_words(symbol))
    terms.extend(extra)
    terms.append(split_identifiers(text))
    return " ".join(_distinct(term for term in terms if term))


def _distinct(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
