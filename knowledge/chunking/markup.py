"""Markdown and reStructuredText by heading section.

A section runs from its heading to the next heading; its symbol is the heading path
("Install > From source"). Long sections are windowed; a heading with nothing under
it but sub-sections is carried in their path instead of being a chunk of its own.
Lines inside Markdown code fences (and front matter) are never headings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.chunking.text import build_chunk, split_lines, windows
from knowledge.documents import Chunk, Document

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_NOT_SETEXT_TEXT = re.compile(r"^\s*(?:[-*+>|]|\d+[.)])(?:\s|$)")
_RST_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+[ \t]*$")


@dataclass(frozen=True)
class _Heading:
    start: int  # first line of the heading (1-based), including an overline
    end: int  # last line of the heading, including an underline
    level: int
    title: str


def chunk_markdown(document: Document) -> list[Chunk]:
    lines = split_lines(document.content)
    return _chunk_sections(document, lines, _markdown_headings(lines))


def chunk_rst(document: Document) -> list[Chunk]:
    lines = split_lines(document.content)
    return _chunk_sections(document, lines, _rst_headings(lines))


def _chunk_sections(document: Document, lines: list[str], headings: list[_Heading]) -> list[Chunk]:
    chunks: list[Chunk] = []
    starts = [heading.start for heading in headings] + [len(lines) + 1]
    sections: list[tuple[int, int, str]] = [(1, starts[0] - 1, "")]
    trail: list[_Heading] = []
    for heading, next_start in zip(headings, starts[1:], strict=True):
        while trail and trail[-1].level >= heading.level:
            trail.pop()
        trail.append(heading)
        if any(line.strip() for line in lines[heading.end : next_start - 1]):
            sections.append((heading.start, next_start - 1, " > ".join(h.title for h in trail)))
    for first, last, symbol in sections:
        for start, end, text in windows(lines, first, last):
            chunks.append(build_chunk(document, len(chunks), start, end, text, symbol, symbol))
    return chunks


def _markdown_headings(lines: list[str]) -> list[_Heading]:
    headings: list[_Heading] = []
    fence: str | None = None
    block_start = True  # a setext heading cannot continue a paragraph
    i = _front_matter_end(lines)
    while i < len(lines):
        line = lines[i]
        fence_match = _FENCE.match(line)
        if fence is not None:
            if fence_match and fence_match[1].startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            block_start = fence is None
        elif fence_match:
            fence = fence_match[1]
        elif atx := _ATX.match(line):
            headings.append(_Heading(i + 1, i + 1, len(atx[1]), (atx[2] or "").strip()))
            block_start = True
        elif block_start and _is_setext(lines, i):
            level = 1 if lines[i + 1].strip().startswith("=") else 2
            headings.append(_Heading(i + 1, i + 2, level, line.strip()))
            i += 1
        else:
            block_start = not line.strip()
        i += 1
    return headings


def _is_setext(lines: list[str], i: int) -> bool:
    """A line starting a paragraph, underlined with `===` or `---`."""
    line = lines[i]
    return (
        i + 1 < len(lines)
        and bool(line.strip())
        and len(line) - len(line.lstrip(" ")) < 4
        and not _NOT_SETEXT_TEXT.match(line)
        and bool(_SETEXT.match(lines[i + 1]))
    )


def _front_matter_end(lines: list[str]) -> int:
    """The index of the first line after YAML front matter (0 if there is none)."""
    if not lines or lines[0].strip() != "---":
        return 0
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return i + 1
    return 0


def _rst_headings(lines: list[str]) -> list[_Heading]:
    """Titles underlined (or over- and underlined) with one repeated punctuation character.

    Levels follow the order in which adornment styles first appear, as in docutils.
    """
    headings: list[_Heading] = []
    styles: list[tuple[str, bool]] = []
    i = 0
    while i < len(lines):
        after_blank = i == 0 or not lines[i - 1].strip()
        adornment = _RST_ADORNMENT.match(lines[i])
        if (
            after_blank
            and adornment
            and i + 2 < len(lines)
            and lines[i + 1].strip()
            and lines[i + 2].rstrip() == lines[i].rstrip()
        ):
            style, title, span = (adornment[1], True), lines[i + 1].strip(), 3
        elif (
            after_blank
            and not adornment
            and i + 1 < len(lines)
            and lines[i].strip()
            and not lines[i][0].isspace()
            and (under := _RST_ADORNMENT.match(lines[i + 1]))
            and len(lines[i + 1].rstrip()) >= len(lines[i].rstrip())
        ):
            style, title, span = (under[1], False), lines[i].strip(), 2
        else:
            i += 1
            continue
        if style not in styles:
            styles.append(style)
        headings.append(_Heading(i + 1, i + span, styles.index(style) + 1, title))
        i += span
    return headings
