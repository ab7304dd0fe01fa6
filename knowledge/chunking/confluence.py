"""Confluence pages: one chunk per heading section, linked to the heading's own anchor.

Anchors are the ids Confluence itself gives headings, so a link opens at the section:

- Server / Data Center (and Cloud's legacy editor): `<PageTitle>-<HeadingText>`, the page
  title with whitespace and hyphens removed, the heading with whitespace removed, other
  punctuation and case kept (`Runbook-Step-by-stepguide`); a repeated heading gets `.1`,
  `.2`, … (`Runbook-Behavior.1`).
- Cloud (current editor): the heading text with each run of whitespace replaced by `-`,
  case and punctuation kept (`2.59.0-(Ubuntu-22)`), percent-encoded in the link; repeats
  get the same `.1` suffix.

Sources: sphinx-contrib/confluencebuilder (PR #921 "replace header spaces with dashes with
v2 editor", PR #931 URL-encoding targets, issue #1121 listing real v1 and v2 anchors) and
mihaeu/cosmere issue #32 (ids Confluence Server rendered, including `Target.1`).
`Document.deployment` ("cloud" or "server") chooses the form.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from urllib.parse import quote

from knowledge.chunking.confluence_storage import Section, parse_storage, plain_text
from knowledge.chunking.text import WINDOW_CHARS
from knowledge.documents import Chunk, Document

logger = logging.getLogger(__name__)

MAX_CHARS = WINDOW_CHARS
"""A section longer than the embedder reads is split, as a repository file is (dev pages: MRR@10
0.890 → 0.900 from 1,200 characters, docs/benchmarks.md)."""
_SEPARATOR = " › "
_FRAGMENT_SAFE = "-._~!$&'()*+,;=:@/?"


def chunk_page(document: Document) -> list[Chunk]:
    try:
        sections = parse_storage(document.content)
    except Exception as exc:  # markup the parser cannot take: index the text anyway
        logger.warning(
            "page %s:%s did not parse (%s); indexing it as plain text", document.source, document.external_id, exc
        )
        sections = [Section("", 0, plain_text(document.content))]

    anchors = heading_anchors(
        [s.heading for s in sections if s.level], document.title, cloud=document.deployment == "cloud"
    )
    breadcrumb = document.breadcrumb or (document.title,)
    chunks: list[Chunk] = []
    trail: list[tuple[int, str]] = []
    for section in sections:
        anchor = ""
        if section.level:
            anchor = anchors.pop(0)
            while trail and trail[-1][0] >= section.level:
                trail.pop()
            trail.append((section.level, section.heading))
        if not section.text:
            continue
        title = _SEPARATOR.join((*breadcrumb, *(heading for _, heading in trail if heading)))
        url = f"{document.url}#{quote(anchor, safe=_FRAGMENT_SAFE)}" if anchor else document.url
        for text in windows(section.text, MAX_CHARS):
            chunks.append(
                Chunk(
                    source=document.source,
                    document_id=document.external_id,
                    ordinal=len(chunks),
                    kind=document.kind,
                    title=title,
                    url=url,
                    path=document.path,
                    text=text,
                    keywords=title,
                    anchor=anchor,
                )
            )
    return chunks


def heading_anchors(headings: list[str], page_title: str, *, cloud: bool) -> list[str]:
    """The anchor Confluence gives each heading of a page, in order ("" for an empty heading)."""
    seen: Counter[str] = Counter()
    anchors = []
    prefix = re.sub(r"[\s-]+", "", page_title)
    for heading in headings:
        if not heading.strip():
            anchors.append("")
            continue
        if cloud:
            base = "-".join(heading.split())
        else:
            base = prefix + "-" + re.sub(r"\s+", "", heading)
        anchors.append(f"{base}.{seen[base]}" if seen[base] else base)
        seen[base] += 1
    return anchors


def windows(text: str, limit: int) -> list[str]:
    """Split text over `limit` characters at paragraph, then line, boundaries; code stays fenced."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    for block in text.split("\n\n"):
        pieces.extend(_split_block(block, limit) if len(block) > limit else [block])
    return _pack(pieces, limit, "\n\n")


def _split_block(block: str, limit: int) -> list[str]:
    lines = block.split("\n")
    fenced = len(lines) > 2 and lines[0].startswith("```") and lines[-1] == "```"
    if fenced:
        opening, lines = lines[0], lines[1:-1]
        limit -= len(opening) + 5
    pieces: list[str] = []
    for line in lines:
        pieces.extend(line[i : i + limit] for i in range(0, len(line), limit) or [0])
    packed = _pack(pieces, limit, "\n")
    return [f"{opening}\n{piece}\n```" for piece in packed] if fenced else packed


def _pack(pieces: list[str], limit: int, joiner: str) -> list[str]:
    out: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(joiner) + len(piece) > limit:
            out.append(current)
            current = piece
        else:
            current = f"{current}{joiner}{piece}" if current else piece
    if current:
        out.append(current)
    return out
