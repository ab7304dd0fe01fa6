"""Python by `ast`: a chunk per top-level function and class, module statements apart.

A class longer than `MAX_CLASS_LINES` is split into its header (with class attributes)
and one chunk per method; a definition longer than one window (text.py: what the embedder
reads) is windowed, each window keeping its symbol. Decorators and the comment
lines directly above a definition belong to it. Module-level statements (docstring,
imports, constants) form their own chunks, windowed when long. A file that does not
parse raises `SyntaxError`; the dispatcher then falls back to line windows.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import PurePosixPath

from knowledge.chunking.text import Span, chunk_spans, split_lines
from knowledge.documents import Chunk, Document

MAX_CLASS_LINES = 80

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def module_name(path: str) -> str:
    """`src/pkg/mod.py` → `pkg.mod`; `pkg/__init__.py` → `pkg`."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    if len(parts) > 1 and parts[0] == "src":
        parts.pop(0)
    return ".".join(parts)


def chunk_python(document: Document) -> list[Chunk]:
    source_path = document.path or document.external_id
    with warnings.catch_warnings():  # e.g. invalid escape sequences: the repo's business, not ours
        warnings.simplefilter("ignore")
        tree = ast.parse(document.content, filename=source_path)
    lines = split_lines(document.content)
    module = module_name(source_path)
    spans = _Splitter(lines).body_spans(tree.body, (), 1, None) or [Span(1, len(lines))]
    return chunk_spans(document, lines, spans, (module,))


class _Splitter:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def body_spans(
        self, body: list[ast.stmt], qualname: tuple[str, ...], start: int, header_end: int | None
    ) -> list[Span]:
        """Spans of a module or class body; loose statements group into runs between definitions.

        The first run starts at `start` (line 1, or the class's first decorator); a class
        passes `header_end` so its header is a span even when a method comes first.
        """
        spans: list[Span] = []
        run_start: int | None = start
        run_end = header_end
        previous_end = start - 1 if header_end is None else header_end
        for statement in body:
            if isinstance(statement, _DEFINITIONS):
                if run_start is not None and run_end is not None:
                    spans.append(Span(run_start, run_end, qualname))
                    previous_end = run_end
                first = self._definition_start(statement, previous_end)
                spans.extend(self.definition_spans(statement, qualname, first))
                previous_end = statement.end_lineno or statement.lineno
                run_start, run_end = None, None
            else:
                if run_start is None:
                    run_start = statement.lineno
                run_end = statement.end_lineno
        if run_start is not None and run_end is not None:
            spans.append(Span(run_start, run_end, qualname))
        return spans

    def definition_spans(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, outer: tuple[str, ...], start: int
    ) -> list[Span]:
        qualname = (*outer, node.name)
        end = node.end_lineno or node.lineno
        if not isinstance(node, ast.ClassDef) or end - start + 1 <= MAX_CLASS_LINES:
            return [Span(start, end, qualname, definition=True)]
        first = node.body[0]
        first_line = self._definition_start(first, node.lineno) if isinstance(first, _DEFINITIONS) else first.lineno
        return self.body_spans(node.body, qualname, start, first_line - 1)

    def _definition_start(self, node: ast.stmt, floor: int) -> int:
        """First line of a statement with its decorators and the comments directly above it."""
        decorators = getattr(node, "decorator_list", [])
        first = min([node.lineno, *(d.lineno for d in decorators)])
        while first - 1 > floor and self.lines[first - 2].lstrip().startswith("#"):
            first -= 1
        return first
