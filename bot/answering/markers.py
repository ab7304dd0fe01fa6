"""Citation markers and code spans: the one grammar for `[n]` in answer text.

A marker cites sources by their numbers: `[1]`, `[1, 2]` (or `[1; 2]`) and `[source 2]`,
which models write although the prompt asks for `[1]` or `[2][3]`. Brackets inside code are
code (`items[1]`), never markers. Code is

- a fenced block: from ``` to the next ``` anywhere (Slack's rule, and the one the message
  splitter counts by), or to the end of the text, so an answer still streaming keeps its open
  block as code;
- inline code: a backtick, then anything but a backtick or a line end, then a backtick. An
  empty pair (``) is a pair too, so it can never open a span that swallows the prose after it.

The prompt reads the model's markers with this, the follow-up rewrite removes them from the
history, and Slack turns them into links. Nothing here imports litellm.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

FENCE = "```"
CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.DOTALL)

MARKER_PATTERN = r"\[\s*(?:(?i:source)\s*)?(?P<numbers>\d+(?:\s*[,;]\s*\d+)*)\s*\]"
"""One marker; the numbers are in the group `numbers`. A pattern, so that a reader with more
to match (Slack formatting: Markdown links too) can put it in one regex with the rest."""
MARKER = re.compile(MARKER_PATTERN)

_SPACED_MARKER = re.compile(r"(?P<space>[ \t]*)" + MARKER_PATTERN)
_SEPARATOR = re.compile(r"\s*[,;]\s*")
_PARTIAL_MARKER = re.compile(r"\[[^\]\n]{0,12}\Z")


def marker_numbers(match: re.Match[str]) -> list[int]:
    """The numbers a `MARKER` match cites, in the order written."""
    return [int(n) for n in _SEPARATOR.split(match.group("numbers"))]


def segments(text: str) -> Iterator[tuple[str, bool]]:
    """The text as consecutive (piece, is_code) pieces; joined, they are the text again."""
    position = 0
    for code in CODE.finditer(text):
        if code.start() > position:
            yield text[position : code.start()], False
        yield code.group(), True
        position = code.end()
    if position < len(text):
        yield text[position:], False


def outside_code(text: str, replace: Callable[[str], str]) -> str:
    """`replace` applied to the prose only; code stays as it is."""
    return "".join(piece if is_code else replace(piece) for piece, is_code in segments(text))


@dataclass(frozen=True)
class CitedText:
    text: str
    cited: tuple[int, ...]
    """Valid source numbers the text cites, ascending."""


def resolve_markers(text: str, available: int) -> CitedText:
    """Normalize every marker to `[n][m]`; drop numbers outside 1..available, and a marker
    left with none, with the space before it."""
    cited: set[int] = set()

    def marker(match: re.Match[str]) -> str:
        valid = [n for n in dict.fromkeys(marker_numbers(match)) if 1 <= n <= available]
        cited.update(valid)
        return match.group("space") + "".join(f"[{n}]" for n in valid) if valid else ""

    resolved = outside_code(text, lambda prose: _SPACED_MARKER.sub(marker, prose))
    return CitedText(resolved.strip(), tuple(sorted(cited)))


def strip_markers(text: str) -> str:
    """The text without any marker (code untouched), e.g. an earlier answer in a new prompt."""
    return resolve_markers(text, 0).text


def streaming_text(text: str, available: int) -> str:
    """Text to show while an answer streams: valid markers only, and no half-written marker at
    the end of the prose (a `[` at the end of an open code block is code, and stays)."""
    partial = _PARTIAL_MARKER.search(text)
    if partial is not None:
        code_end = max((code.end() for code in CODE.finditer(text)), default=0)
        if partial.start() >= code_end:
            text = text[: partial.start()]
    return resolve_markers(text, available).text
