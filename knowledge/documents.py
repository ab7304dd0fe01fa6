"""Documents as sources yield them, and the chunks the index holds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

from knowledge.restrictions import UNRESTRICTED, Restrictions, encode

Kind = Literal["code", "page"]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Document:
    """One file at a commit, or one Confluence page at a version.

    `format` tells the chunker how to split `content` ("python", "typescript", "tsx",
    "javascript", "go", "java", "rust", "ruby", "csharp", "markdown", "rst", "text",
    "confluence_storage"). `line_url` is a template with `{start}` and `{end}`
    for code links to a line range; `url` is the document's own link. `deployment` says
    which flavour of a product the document came from when that changes its links
    ("cloud" or "server" for Confluence heading anchors); empty otherwise.
    `restrictions` says who may read it (knowledge/restrictions.py); every chunk inherits them.
    """

    source: str
    external_id: str
    kind: Kind
    title: str
    url: str
    content: str
    version: str
    format: str
    path: str = ""
    line_url: str = ""
    breadcrumb: tuple[str, ...] = ()
    deployment: str = ""
    restrictions: Restrictions = UNRESTRICTED

    @property
    def hash(self) -> str:
        """Changes with what is indexed: the text, and who may read it (so a page whose
        restrictions change is stored again; its unchanged chunks keep their vectors)."""
        readers = f"\n{encode(self.restrictions)}" if self.restrictions else ""
        return content_hash(f"{self.title}\n{self.url}\n{self.content}{readers}")


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: what is embedded, searched and cited.

    `keywords` goes only into the keyword (BM25) side: file path, symbol path,
    identifiers split into words, a page's breadcrumb. `restrictions` are its document's;
    they are filtered on, never embedded, so they are not part of `hash`.
    """

    source: str
    document_id: str
    ordinal: int
    kind: Kind
    title: str
    url: str
    path: str
    text: str
    keywords: str = ""
    symbol: str = ""
    start_line: int | None = None
    end_line: int | None = None
    anchor: str = ""
    hash: str = field(default="")
    restrictions: Restrictions = UNRESTRICTED

    def __post_init__(self) -> None:
        if not self.hash:
            object.__setattr__(self, "hash", content_hash(self.embedding_text))

    @property
    def id(self) -> str:
        return content_hash(f"{self.source}\x00{self.document_id}\x00{self.ordinal}")[:32]

    @property
    def embedding_text(self) -> str:
        """What the embedder sees: the title gives a passage its context."""
        return f"{self.title}\n{self.text}"
