"""Code by syntax (tree-sitter): TypeScript, JavaScript, Go, Java, Rust, Ruby and C#.

The rules are those `python.py` applies to Python: a chunk per top-level function,
method, class, interface and type declaration, with the comments and attributes
directly above it; a class longer than `MAX_CLASS_LINES` is split into its header and
one chunk per member; a declaration longer than one window (text.py) is windowed under
its symbol; loose statements (package clause, imports, constants) group into chunks
between declarations, windowed when long.
Symbols: `pkg.Type.Method` in Go, `com.acme.Store.add` in Java (with its package),
`Store.add` in TypeScript; what counts as a declaration per language is in `grammars.py`.

tree-sitter always returns a tree, with ERROR nodes where code does not parse; those
chunk as loose statements. Only a tree with errors and no declaration at all raises
`SyntaxError`, so the dispatcher falls back to line windows (logged). Grammars load on
first use; parsers are cached per thread, since a parser must not be shared by two.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from knowledge.chunking.grammars import GRAMMARS, Declaration, Grammar, Scope
from knowledge.chunking.python import MAX_CLASS_LINES
from knowledge.chunking.text import MAX_CHARS, Span, chunk_spans, chunk_text, split_lines
from knowledge.documents import Chunk, Document

if TYPE_CHECKING:
    from tree_sitter import Language, Node, Parser

logger = logging.getLogger(__name__)

FORMATS = frozenset(GRAMMARS)


@dataclass(frozen=True)
class _Entry:
    """A statement of a body, in order, with the members of scopes flattened in."""

    start: int
    end: int
    qualname: tuple[str, ...]
    prefix: tuple[str, ...]
    declaration: Declaration | None = None
    attached: bool = False  # a comment or attribute: part of a declaration directly below it


def chunk_code(document: Document) -> list[Chunk]:
    grammar = GRAMMARS[document.format]
    parser = _parser(grammar.language)
    lines = split_lines(document.content)
    if parser is None or any(len(line) > MAX_CHARS for line in lines):
        # No grammar; or minified code, where declarations sharing a line would each hold all of it.
        return chunk_text(document)
    tree = parser.parse("\n".join(lines).encode("utf-8", "replace"))  # one row per line, as split_lines counts
    splitter = _Splitter(grammar, lines)
    spans = splitter.body_spans(splitter.entries(tree.root_node.named_children, (), ()), (), (), 1, None)
    if tree.root_node.has_error and not any(span.definition for span in spans):
        raise SyntaxError(f"no {grammar.language} declaration found in a tree with syntax errors")
    return chunk_spans(document, lines, spans)


def first_line(node: Node) -> int:
    return node.start_point.row + 1


def last_line(node: Node) -> int:
    """The 1-based last line of `node`; a node that ends with its line break ends on that line."""
    row, column = node.end_point
    return row if column == 0 and row > node.start_point.row else row + 1


class _Splitter:
    def __init__(self, grammar: Grammar, lines: list[str]) -> None:
        self.grammar = grammar
        self.lines = lines
        self.attached_from: dict[int, int] = {}  # last line → first line of each comment or attribute

    def entries(self, nodes: list[Node], qualname: tuple[str, ...], prefix: tuple[str, ...]) -> list[_Entry]:
        """The statements of a body; a scope's opening lines are a loose statement at this level."""
        entries: list[_Entry] = []
        for node in nodes:
            found = self.grammar.classify(node)
            if isinstance(found, Scope):
                inner_qualname = qualname if found.package or not found.name else (*qualname, found.name)
                inner_prefix = (*prefix, found.name) if found.package and found.name else prefix
                name = found.node.child_by_field_name("name")
                opening = last_line(name) if name is not None else first_line(found.node)
                entries.append(_Entry(first_line(node), opening, qualname, inner_prefix))
                entries.extend(self.entries(self.grammar.members(found.body), inner_qualname, inner_prefix))
                continue
            package = self.grammar.package_name(node)
            if package:
                prefix = (package,)
            attached = node.type in self.grammar.attached
            if attached:
                self.attached_from[last_line(node)] = first_line(node)
            declaration = found if isinstance(found, Declaration) else None
            entries.append(_Entry(first_line(node), last_line(node), qualname, prefix, declaration, attached))
        return entries

    def body_spans(
        self,
        entries: list[_Entry],
        qualname: tuple[str, ...],
        prefix: tuple[str, ...],
        start: int,
        header_end: int | None,
    ) -> list[Span]:
        """Spans of a file or class body: loose statements group into runs between declarations.

        The first run starts at `start` (line 1, or the class's first line); a class passes
        `header_end` so its header is a span even when a member comes first.
        """
        spans: list[Span] = []
        run_start: int | None = start
        run_end = header_end
        floor = start - 1 if header_end is None else header_end  # comments above a declaration stay below it
        for entry in entries:
            if entry.declaration is not None:
                first = self._attached_start(entry.start, floor)
                if run_end is not None:
                    _add_run(spans, run_start, min(run_end, first - 1), qualname, prefix)
                spans.extend(self._declaration_spans(entry, first))
                floor = max(floor, entry.end)
                run_start, run_end = None, None
                continue
            if entry.qualname != qualname:  # the loose statements of a scope (a module, a namespace)
                if run_end is not None:
                    _add_run(spans, run_start, run_end, qualname, prefix)
                run_start, run_end = None, None
                qualname = entry.qualname
            if run_start is None:
                run_start = entry.start
            run_end = entry.end if run_end is None else max(run_end, entry.end)
            prefix = entry.prefix
            if not entry.attached:
                floor = max(floor, entry.end)
        if run_end is not None:
            _add_run(spans, run_start, run_end, qualname, prefix)
        return spans

    def _declaration_spans(self, entry: _Entry, first: int) -> list[Span]:
        declaration = entry.declaration
        assert declaration is not None
        qualname = (*entry.qualname, *declaration.name)
        whole = [Span(first, entry.end, qualname, entry.prefix, definition=True)]
        if not declaration.container or entry.end - first + 1 <= MAX_CLASS_LINES:
            return whole
        body = declaration.node.child_by_field_name("body")
        members = self.entries(self.grammar.members(body), qualname, entry.prefix)
        if not members:
            return whole
        name = declaration.node.child_by_field_name("name")
        head = members[0]
        floor = first_line(name if name is not None else declaration.node)
        head_start = self._attached_start(head.start, floor) if head.declaration else head.start
        return self.body_spans(members, qualname, entry.prefix, first, head_start - 1)

    def _attached_start(self, line: int, floor: int) -> int:
        """First line of a declaration with the comments and attributes directly above it (below `floor`)."""
        first = line
        while first - 1 > floor:
            above = first - 1
            start = self.attached_from.get(above)
            if start is not None and start > floor:
                first = start
            elif self.lines[above - 1].lstrip().startswith(self.grammar.comment_prefixes):
                first = above
            else:
                break
        return first


def _add_run(
    spans: list[Span], start: int | None, end: int, qualname: tuple[str, ...], prefix: tuple[str, ...]
) -> None:
    if start is not None and end >= start:
        spans.append(Span(start, end, qualname, prefix))


@cache
def _language(name: str) -> Language | None:
    try:
        from tree_sitter_language_pack import get_language
    except ImportError as exc:
        logger.warning("tree-sitter-language-pack is not installed (%s): code is chunked by line windows", exc)
        return None
    try:
        return get_language(name)  # type: ignore[arg-type]  # a Literal of the pack's names
    except LookupError as exc:
        logger.warning("no tree-sitter grammar for %s (%s): its files are chunked by line windows", name, exc)
        return None


_parsers = threading.local()


def _parser(name: str) -> Parser | None:
    """This thread's parser for the grammar `name`; None when the grammar cannot be loaded."""
    cache: dict[str, Parser] = _parsers.__dict__.setdefault("by_language", {})
    if name not in cache:
        language = _language(name)
        if language is None:
            return None
        from tree_sitter import Parser

        cache[name] = Parser(language)
    return cache[name]
