"""Short quotable snippets of a chunk: the lines that share most words with the query."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9]+")


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if len(w) > 2}


def best_snippet(text: str, query: str, max_lines: int = 6, max_chars: int = 400) -> str:
    """The window of up to `max_lines` lines with the most query words, trimmed to `max_chars`."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return ""
    wanted = _words(query)
    line_hits = [len(_words(line) & wanted) for line in lines]
    best_start, best_score = 0, -1
    for start in range(max(1, len(lines) - max_lines + 1)):
        score = sum(line_hits[start : start + max_lines])
        if score > best_score:
            best_start, best_score = start, score
    window = "\n".join(lines[best_start : best_start + max_lines]).strip("\n")
    if len(window) > max_chars:
        window = window[: max_chars - 1].rstrip() + "…"
    return window
