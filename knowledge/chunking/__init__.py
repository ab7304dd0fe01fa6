"""Chunking: split a document into passages by its format.

Code: by function and class (a long one in line windows that keep its symbol): Python via
`ast`; TypeScript, JavaScript, Go, Java, Rust, Ruby and C# via tree-sitter (`syntax.py`);
any other text by line windows at blank lines. Markup (Markdown, reStructuredText) and
Confluence pages: by heading section. Chunks hold about what the embedder reads.
A chunker that fails falls back to line windows, logged, so a bad file never stops a sync.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from knowledge.chunking import confluence, markup, python, syntax, text
from knowledge.documents import Chunk, Document

logger = logging.getLogger(__name__)

CHUNKING_VERSION = 6
"""Bump when chunk boundaries or texts change: every document is re-chunked at its next sync.
3: secrets are redacted before chunking (knowledge.redaction), so an index built before
holds none of them once each source has synced again. 4: chunks fit the embedder's window
(text.WINDOW_CHARS), long definitions in several. 5: Confluence sections fit it too.
6: a file's license header is left out (text.license_header_end)."""

Chunker = Callable[[Document], list[Chunk]]

CHUNKERS: dict[str, Chunker] = {
    "python": python.chunk_python,
    "markdown": markup.chunk_markdown,
    "rst": markup.chunk_rst,
    "text": text.chunk_text,
    "confluence_storage": confluence.chunk_page,
    **dict.fromkeys(sorted(syntax.FORMATS), syntax.chunk_code),
}


def chunk_document(document: Document) -> list[Chunk]:
    """The document's chunks, each carrying the document's read restrictions."""
    chunks = _split(document)
    if document.restrictions:
        return [dataclasses.replace(chunk, restrictions=document.restrictions) for chunk in chunks]
    return chunks


def _split(document: Document) -> list[Chunk]:
    chunker = CHUNKERS.get(document.format, text.chunk_text)
    try:
        return chunker(document)
    except Exception as exc:  # any parser failure: fall back, never abort the sync
        logger.warning(
            "chunker %s failed on %s:%s (%s); using line windows",
            document.format,
            document.source,
            document.external_id,
            exc,
        )
        return text.chunk_text(document)
