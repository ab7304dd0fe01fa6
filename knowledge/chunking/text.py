"""Line windows: the chunker for any text, and the pieces the other chunkers share.

Windows hold at most 20 lines and 700 characters with up to 5 lines of overlap, end at a
blank line when one is in the second half of the window, and never cut a line, except a
single line longer than `MAX_CHARS` (minified code, data), which is cut on whitespace.

A file's license header (its first comment, when that names a license or copyright) is
not indexed: the same boilerplate in every file says nothing about any of them, and in a
Java or Go codebase it was one chunk in fourteen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from knowledge.chunking.identifiers import chunk_keywords
from knowledge.documents import Chunk, Document

WINDOW_LINES = 20
WINDOW_CHARS = 700
"""With its title, about the 256 tokens the default embedder (all-MiniLM-L6-v2) reads: code
and prose run about 3 characters a token. The embedder truncates the rest, so a longer chunk's
tail was never seen by the vector side (docs/benchmarks.md: dev MRR@10 0.799 → 0.816)."""
OVERLAP_LINES = 5
MAX_CHARS = 4000
"""A line longer than this is cut (minified code, data) and marks a file as not hand-written code."""
MAX_TITLE_LABEL = 80

_LINE_COMMENTS = ("//", "#", "--")
# What license boilerplate says, and a doc comment about licensing code does not ("Package
# licensing validates license keys").
_LICENSE = re.compile(
    r"\bcopyright\b|©|\(c\)\s*\d{4}|spdx-license-identifier|\blicensed\s+(?:to|under)\b|all rights reserved"
    r"|permission is hereby granted|under the terms of the",
    re.IGNORECASE,
)

# The line breaks Python's parser and the web hosts count; str.splitlines knows more.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def license_header_end(lines: list[str]) -> int:
    """The last line of the file's license header and the blank lines after it; 0 when it has
    none. The header is the first comment (a `/* … */` block or a run of line comments, after
    blank lines and a `#!` line), when it names a license or copyright and code follows it."""
    first = _next_text_line(lines, 1 if lines and lines[0].startswith("#!") else 0)
    if first == len(lines):
        return 0
    head = lines[first].lstrip()
    if head.startswith("/*"):
        end = next((i for i in range(first, len(lines)) if "*/" in lines[i]), None)
    elif prefix := next((p for p in _LINE_COMMENTS if head.startswith(p)), None):
        end = first
        while end + 1 < len(lines) and lines[end + 1].lstrip().startswith(prefix):
            end += 1
    else:
        return 0
    if end is None or not _LICENSE.search("\n".join(lines[first : end + 1])):
        return 0
    kept = _next_text_line(lines, end + 1)  # the header's blank lines after it go with it
    return kept if kept < len(lines) else 0


def _next_text_line(lines: list[str], i: int) -> int:
    """The index of the first line from `i` on that is not blank; `len(lines)` when none is."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def windows(lines: list[str], first: int = 1, last: int | None = None) -> Iterator[tuple[int, int, str]]:
    """(start line, end line, text) windows over lines `first`..`last` (1-based, inclusive)."""
    i, stop = first - 1, len(lines) if last is None else last
    while i < stop:
        while i < stop and not lines[i].strip():
            i += 1
        if i >= stop:
            return
        if len(lines[i]) > MAX_CHARS:
            for piece in _cut_long_line(lines[i]):
                yield i + 1, i + 1, piece
            i += 1
            continue
        end, size = i + 1, len(lines[i])
        while end < stop and end - i < WINDOW_LINES and size + 1 + len(lines[end]) <= WINDOW_CHARS:
            size += 1 + len(lines[end])
            end += 1
        if end < stop:
            end = _blank_line_break(lines, i, end)
        kept = end
        while not lines[kept - 1].strip():
            kept -= 1
        yield i + 1, kept, "\n".join(lines[i:kept])
        if end >= stop:
            return
        i = max(end - min(OVERLAP_LINES, (end - i) // 4), i + 1)


def build_chunk(
    document: Document, ordinal: int, start: int, end: int, text: str, symbol: str = "", label: str = ""
) -> Chunk:
    """A chunk of `document` at lines `start`..`end`; `label` follows the title (e.g. `Class.method`)."""
    if len(label) > MAX_TITLE_LABEL:
        label = "…" + label[-(MAX_TITLE_LABEL - 1) :]
    return Chunk(
        source=document.source,
        document_id=document.external_id,
        ordinal=ordinal,
        kind=document.kind,
        title=f"{document.title} · {label}" if label else document.title,
        url=document.line_url.format(start=start, end=end) if document.line_url else document.url,
        path=document.path,
        text=text,
        keywords=chunk_keywords(document.path, symbol, text, document.breadcrumb),
        symbol=symbol,
        start_line=start,
        end_line=end,
    )


@dataclass(frozen=True)
class Span:
    """Lines `start`..`end` (1-based, inclusive) of `qualname` (empty: file level) under
    `prefix` (a module or package), as the syntax chunkers find them."""

    start: int
    end: int
    qualname: tuple[str, ...] = ()
    prefix: tuple[str, ...] = ()
    definition: bool = False


def chunk_spans(
    document: Document, lines: list[str], spans: Iterable[Span], prefix: tuple[str, ...] = ()
) -> list[Chunk]:
    """A chunk per definition span that fits one window; line windows over longer definitions
    (each window keeping the definition's symbol) and over the spans between definitions."""
    chunks: list[Chunk] = []
    header = license_header_end(lines)
    for span in spans:
        if span.start <= header:
            if span.end <= header:
                continue
            span = replace(span, start=header + 1)
        symbol = ".".join((*prefix, *span.prefix, *span.qualname))
        label = ".".join(span.qualname)
        body = "\n".join(lines[span.start - 1 : span.end])
        if span.definition and span.end - span.start < WINDOW_LINES and len(body) <= WINDOW_CHARS:
            pieces = [(span.start, span.end, body)]
        else:
            pieces = list(windows(lines, span.start, span.end))
        for start, end, text in pieces:
            chunks.append(build_chunk(document, len(chunks), start, end, text, symbol, label))
    return chunks


def chunk_text(document: Document) -> list[Chunk]:
    lines = split_lines(document.content)
    found = windows(lines, license_header_end(lines) + 1)
    return [build_chunk(document, ordinal, start, end, text) for ordinal, (start, end, text) in enumerate(found)]


def _blank_line_break(lines: list[str], start: int, end: int) -> int:
    """Move a window's end back to a blank line in its second half, if there is one."""
    for b in range(end - 1, start + (end - start) // 2, -1):
        if not lines[b].strip():
            return b
    return end


def _cut_long_line(line: str) -> Iterator[str]:
    pos = 0
    while pos < len(line):
        cut = pos + MAX_CHARS
        if cut < len(line):
            space = line.rfind(" ", pos + MAX_CHARS // 2, cut)
            cut = space + 1 if space > 0 else cut
        piece = line[pos:cut].strip()
        if piece:
            yield piece
        pos = cut
