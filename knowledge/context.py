"""The passages an answer is written from, widened to the definition or section they belong to.

Chunks are as small as the embedder's window (chunking/text.py), so a long function is
indexed as several windows and the best hit may be its middle. Search is better for it;
an LLM answering from that window alone would miss the function's signature or its end.
Before the prompt, each hit takes in its neighbouring windows of the same symbol (the same
function, class or section of a file) or of the same section of a Confluence page, nearest
first, up to `CONTEXT_CHARS`. The citation still links to the lines that matched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from knowledge.documents import Chunk
from knowledge.index import SearchHit, SearchIndex, SearchIndexUnavailable

logger = logging.getLogger(__name__)

CONTEXT_CHARS = 3000
"""A widened passage's most characters: about a 100-line function's worth of windows."""
REACH = 4
"""Windows on each side looked at."""


async def in_context(index: SearchIndex, hits: Sequence[SearchHit]) -> list[SearchHit]:
    """`hits`, each with its chunk's text widened to the windows around it of the same symbol.
    Best effort: if the index fails now, the answer is written from the hits as they are."""
    try:
        return list(await asyncio.gather(*(_widened(index, hit) for hit in hits)))
    except SearchIndexUnavailable as exc:
        logger.warning("answering from the matched windows alone: %s", exc)
        return list(hits)


async def _widened(index: SearchIndex, hit: SearchHit) -> SearchHit:
    chunk = hit.chunk
    part = _part_of(chunk)
    if len(chunk.text) >= CONTEXT_CHARS or part is None:
        return hit
    around = await index.neighbours(chunk, REACH)
    if not any(c.ordinal == chunk.ordinal and c.hash == chunk.hash for c in around):
        return hit  # the document changed since it was searched: its windows may no longer fit
    join = _joined_paragraphs if part[0] == "section" else _joined
    nearby = {c.ordinal: c for c in around if _part_of(c) == part}
    kept, growing = [chunk], {-1: True, 1: True}
    for distance in range(1, REACH + 1):
        for side in (-1, 1):
            neighbour = nearby.get(chunk.ordinal + side * distance)
            if growing[side] and neighbour is not None and len(join([*kept, neighbour])) <= CONTEXT_CHARS:
                kept.append(neighbour)
            else:
                growing[side] = False  # contiguous only: a gap or another symbol ends this side
    return replace(hit, chunk=replace(chunk, text=join(kept))) if len(kept) > 1 else hit


def _part_of(chunk: Chunk) -> tuple[str, str] | None:
    """What the windows read with a chunk share with it: a page's section (its anchored link),
    or a file's symbol; None for a chunk read alone (a cut long line)."""
    if chunk.kind == "page":
        return "section", chunk.url
    return ("symbol", chunk.symbol) if _whole_lines(chunk) else None


def _whole_lines(chunk: Chunk) -> bool:
    """Whether the chunk's text is its lines `start_line`..`end_line` (not a cut long line)."""
    if chunk.start_line is None or chunk.end_line is None:
        return False
    return chunk.text.count("\n") == chunk.end_line - chunk.start_line


def _joined(chunks: Sequence[Chunk]) -> str:
    """The chunks' lines in order, each once (windows overlap); lines between them blank."""
    lines: dict[int, str] = {}
    for chunk in chunks:
        assert chunk.start_line is not None
        for number, line in enumerate(chunk.text.split("\n"), chunk.start_line):
            lines.setdefault(number, line)  # the first chunk (the hit) wins where lines repeat
    return "\n".join(lines.get(n, "") for n in range(min(lines), max(lines) + 1))


def _joined_paragraphs(chunks: Sequence[Chunk]) -> str:
    """A page section's windows in order: they split it at paragraphs, without overlap."""
    return "\n\n".join(chunk.text for chunk in sorted(chunks, key=lambda c: c.ordinal))
