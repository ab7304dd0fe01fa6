"""Chunking on a real Go codebase: tree-sitter declarations against the old line windows.

    python bench/corpora/build.py urfave-cli     # once: the corpus as a git repository
    python bench/chunking_speed.py [--corpus urfave-cli] [--rounds 5]

Every tracked file the git source would index (the same skip rules and decoding) is
chunked `--rounds` times, in this process, after one warm-up round; files/s is the best
round. "tree-sitter" is the chunking of today (`chunk_document`, Go files by syntax);
"line windows" is the same files as before this change, when a `.go` file had the
format "text". A chunk is a declaration when it has a symbol below the package (its
title carries a label); the rest are windows of loose statements (and, for every file,
Markdown sections). "held whole" is the share of the declarations tree-sitter found that
lie entirely inside one chunk; "median lines" is the median chunk length.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from corpora.build import corpora

from knowledge.chunking import chunk_document
from knowledge.chunking.syntax import FORMATS
from knowledge.documents import Chunk, Document
from knowledge.sources.file_filters import skip_reason
from knowledge.sources.git import file_format
from knowledge.sources.text_encoding import decode_text

MAX_FILE_BYTES = 1_000_000  # the MAX_FILE_BYTES default


def documents(repo: Path) -> tuple[list[Document], int]:
    """The documents a sync of `repo` would index, and how many tracked files it would skip."""
    paths = (
        subprocess.run(
            ["git", "-C", str(repo), "ls-files", "-z"],
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    found, skipped = [], 0
    for path in filter(None, paths):
        data = (repo / path).read_bytes()
        if skip_reason(path, data, MAX_FILE_BYTES):
            skipped += 1
            continue
        found.append(
            Document(
                source=repo.name,
                external_id=path,
                kind="code",
                title=path,
                url=path,
                content=decode_text(data)[0],
                version="bench",
                format=file_format(path),
                path=path,
            )
        )
    return found, skipped


def as_before(document: Document) -> Document:
    """The document as chunked before tree-sitter: code by syntax was plain text then."""
    return replace(document, format="text") if document.format in FORMATS else document


def timed(
    chunker: Callable[[Document], list[Chunk]], docs: list[Document], rounds: int
) -> tuple[float, list[list[Chunk]]]:
    """Best seconds over `rounds` (after a warm-up round) and the chunks of the last round."""
    chunked = [chunker(doc) for doc in docs]
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        chunked = [chunker(doc) for doc in docs]
        best = min(best, time.perf_counter() - started)
    return best, chunked


def is_declaration(chunk: Chunk, document: Document) -> bool:
    """A declaration of code chunked by syntax (Markdown sections have labels too, but are no code)."""
    return document.format in FORMATS and chunk.title != document.title


def report(
    label: str,
    docs: list[Document],
    seconds: float,
    chunked: list[list[Chunk]],
    declarations: list[tuple[str, int, int]],
) -> None:
    chunks = [(doc, chunk) for doc, doc_chunks in zip(docs, chunked, strict=True) for chunk in doc_chunks]
    named = sum(is_declaration(chunk, doc) for doc, chunk in chunks)
    ranges: dict[str, list[tuple[int, int]]] = {}
    for doc, chunk in chunks:
        ranges.setdefault(doc.external_id, []).append((chunk.start_line or 0, chunk.end_line or 0))
    whole = sum(
        any(start <= first and last <= end for start, end in ranges.get(path, [])) for path, first, last in declarations
    )
    total = len(chunks) or 1
    lines = sorted((chunk.end_line or 0) - (chunk.start_line or 0) + 1 for _, chunk in chunks) or [0]
    print(
        f"  {label:13} {len(docs) / seconds:9.0f} {len(chunks):8d} {named:8d} ({named / total:4.0%})"
        f" {len(chunks) - named:7d} ({(len(chunks) - named) / total:4.0%})"
        f" {whole / (len(declarations) or 1):10.0%} {lines[len(lines) // 2]:9d}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="urfave-cli")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    (corpus,) = [c for c in corpora() if c.name == args.corpus]
    if not (corpus.repo / ".git").is_dir():
        raise SystemExit(f"build the corpus first: python bench/corpora/build.py {corpus.name}")

    docs, skipped = documents(corpus.repo)
    go = [doc for doc in docs if doc.format == "go"]
    started = time.perf_counter()
    chunk_document(go[0])
    first = time.perf_counter() - started
    print(
        f"{corpus.name} ({corpus.package} {corpus.version}): {len(docs)} files indexed, {skipped} skipped, "
        f"{len(go)} Go files ({sum(len(d.content) for d in go) / 1e6:.2f} MB); "
        f"first Go file with the grammar load: {first * 1000:.1f} ms"
    )

    for label, selection in (("Go files", go), ("every indexed file", docs)):
        new_seconds, new_chunks = timed(chunk_document, selection, args.rounds)
        old_docs = [as_before(doc) for doc in selection]
        old_seconds, old_chunks = timed(chunk_document, old_docs, args.rounds)
        declarations = [
            (doc.external_id, chunk.start_line or 0, chunk.end_line or 0)
            for doc, doc_chunks in zip(selection, new_chunks, strict=True)
            for chunk in doc_chunks
            if is_declaration(chunk, doc)
        ]
        print(f"\n{label} ({len(selection)}), {len(declarations)} declarations found by tree-sitter:")
        print(
            f"  {'':13} {'files/s':>9} {'chunks':>8} {'declarations':>15} {'windows':>14} {'held whole':>10}"
            f" {'median lines':>12}"
        )
        report("tree-sitter", selection, new_seconds, new_chunks, declarations)
        report("line windows", old_docs, old_seconds, old_chunks, declarations)


if __name__ == "__main__":
    main()
