"""Chunkers for code and markup: boundaries, symbol paths, line ranges, keywords."""

from __future__ import annotations

import ast
import itertools
import logging

import pytest

from knowledge.chunking import chunk_document
from knowledge.chunking.identifiers import chunk_keywords, split_identifiers
from knowledge.chunking.markup import chunk_markdown, chunk_rst
from knowledge.chunking.python import chunk_python, module_name
from knowledge.chunking.text import MAX_CHARS, WINDOW_CHARS, WINDOW_LINES, chunk_text, split_lines
from knowledge.documents import Chunk, Document
from tests.sample_repo import SAMPLE_FILES, USERS_PY

LINE_URL = "https://github.com/acme/widgets/blob/abc/{path}#L{{start}}-L{{end}}"


def code(path: str, content: str, fmt: str = "python", line_url: str | None = None) -> Document:
    return Document(
        source="widgets",
        external_id=path,
        kind="code",
        title=path,
        url=f"https://github.com/acme/widgets/blob/abc/{path}",
        content=content,
        version="abc",
        format=fmt,
        path=path,
        line_url=LINE_URL.format(path=path) if line_url is None else line_url,
    )


def spans(chunks: list[Chunk]) -> list[tuple[str, int | None, int | None]]:
    return [(c.symbol, c.start_line, c.end_line) for c in chunks]


def text_of(content: str, chunk: Chunk) -> str:
    assert chunk.start_line is not None and chunk.end_line is not None
    return "\n".join(split_lines(content)[chunk.start_line - 1 : chunk.end_line])


# --- Python -------------------------------------------------------------------------------


def test_python_module_functions_and_classes() -> None:
    chunks = chunk_python(code("widgets/users.py", USERS_PY))

    assert spans(chunks) == [
        ("widgets.users", 1, 5),  # docstring, imports, logger
        ("widgets.users.get_user_name", 8, 10),
        ("widgets.users.UserStore", 13, 21),  # small class: one chunk
    ]
    assert [c.title for c in chunks] == [
        "widgets/users.py",
        "widgets/users.py · get_user_name",
        "widgets/users.py · UserStore",
    ]
    assert chunks[1].url == "https://github.com/acme/widgets/blob/abc/widgets/users.py#L8-L10"
    assert chunks[1].text == text_of(USERS_PY, chunks[1])
    assert [c.ordinal for c in chunks] == [0, 1, 2]
    assert {(c.source, c.document_id, c.kind, c.path) for c in chunks} == {
        ("widgets", "widgets/users.py", "code", "widgets/users.py")
    }


def test_decorators_comments_and_trailing_module_code() -> None:
    source = (
        "import functools\n"  # 1
        "\n"  # 2
        "\n"  # 3
        "# Cached: the lookup is slow.\n"  # 4
        "@functools.cache\n"  # 5
        "async def lookup(\n"  # 6
        "    key: str,\n"  # 7
        ") -> str:\n"  # 8
        "    return key\n"  # 9
        "\n"  # 10
        "TIMEOUT = 3\n"  # 11
        "RETRIES = 2\n"  # 12
        "\n"  # 13
        "if __name__ == '__main__':\n"  # 14
        "    lookup('x')\n"  # 15
    )
    assert spans(chunk_python(code("src/tools/cache.py", source))) == [
        ("tools.cache", 1, 1),
        ("tools.cache.lookup", 4, 9),
        ("tools.cache", 11, 15),
    ]


def big_class_source() -> str:
    methods = "".join(
        f"\n    def method_{n}(self, value: int) -> int:\n"
        f'        """Method {n}."""\n' + "".join(f"        value += {i}\n" for i in range(7)) + "        return value\n"
        for n in range(8)
    )
    return (
        '"""Inventory."""\n'  # 1
        "\n"  # 2
        "\n"  # 3
        "@dataclass\n"  # 4
        "class Inventory(Base):\n"  # 5
        '    """Counts widgets."""\n'  # 6
        "\n"  # 7
        "    LIMIT = 10\n"  # 8
        "    names: list[str]\n"  # 9
        + methods
        + "\n    class Meta:\n        ordering = 'name'\n"
        + "\n    TRAILER = 1\n"
    )


def test_a_big_class_is_split_by_method_never_inside_one() -> None:
    source = big_class_source()
    chunks = chunk_python(code("shop/inventory.py", source))
    tree = ast.parse(source)
    inventory = tree.body[1]
    assert isinstance(inventory, ast.ClassDef) and inventory.end_lineno - 4 + 1 > 80

    assert spans(chunks)[:3] == [
        ("shop.inventory", 1, 1),
        ("shop.inventory.Inventory", 4, 9),  # decorator, header, docstring, attributes
        ("shop.inventory.Inventory.method_0", 11, 20),
    ]
    assert [c.symbol for c in chunks[2:]] == [
        *(f"shop.inventory.Inventory.method_{n}" for n in range(8)),
        "shop.inventory.Inventory.Meta",
        "shop.inventory.Inventory",
    ]
    for member in inventory.body:
        if isinstance(member, ast.FunctionDef):
            holding = [c for c in chunks if c.start_line <= member.lineno and member.end_lineno <= c.end_line]
            assert len(holding) == 1, member.name
            assert (holding[0].start_line, holding[0].end_line) == (member.lineno, member.end_lineno)
    assert chunks[4].title == "shop/inventory.py · Inventory.method_2"
    assert chunks[-1].text == "    TRAILER = 1"


def test_python_without_a_line_template_links_the_file() -> None:
    chunks = chunk_python(code("a.py", "def f():\n    pass\n", line_url=""))
    assert chunks[0].url == "https://github.com/acme/widgets/blob/abc/a.py"


def test_module_names_from_paths() -> None:
    assert module_name("knowledge/sources/git.py") == "knowledge.sources.git"
    assert module_name("src/pkg/__init__.py") == "pkg"
    assert module_name("setup.py") == "setup"


def test_a_file_that_does_not_parse_falls_back_to_windows_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    broken = SAMPLE_FILES["widgets/broken.py"]
    assert isinstance(broken, str)
    document = code("widgets/broken.py", broken)
    with pytest.raises(SyntaxError):
        chunk_python(document)

    with caplog.at_level(logging.WARNING, logger="knowledge.chunking"):
        chunks = chunk_document(document)

    assert spans(chunks) == [("", 1, 2)]
    assert chunks[0].text == broken.rstrip("\n")
    assert any("widgets/broken.py" in r.getMessage() for r in caplog.records if r.name == "knowledge.chunking")


# --- Text windows -------------------------------------------------------------------------


LONG_DEFINITIONS = [
    (
        "jobs/nightly.py",
        "python",
        ["def run_nightly(ledger):"],
        "    settled_{n} = ledger.settle(batch={n}, retries=3, reason='nightly reconciliation')",
        ["    return settled_39"],
    ),
    (
        "jobs/nightly.go",
        "go",
        ["package jobs", "", "func RunNightly(l Ledger) {"],
        '\tl.Settle({n}, 3, "nightly reconciliation of the card ledger batch")',
        ["}"],
    ),
]


@pytest.mark.parametrize(("path", "fmt", "head", "line", "tail"), LONG_DEFINITIONS)
def test_a_definition_longer_than_a_window_is_windowed_under_its_symbol(path, fmt, head, line, tail) -> None:
    content = "\n".join([*head, *(line.format(n=n) for n in range(40)), *tail]) + "\n"
    chunks = [c for c in chunk_document(code(path, content, fmt)) if c.symbol.endswith(("run_nightly", "RunNightly"))]

    first = len(head)  # the definition's first line
    assert len(chunks) > 1 and chunks[0].start_line == first  # the first window opens with the signature
    for chunk in chunks:  # each fits the embedder's window, whole lines, under the definition's name
        assert chunk.end_line - chunk.start_line + 1 <= WINDOW_LINES and len(chunk.text) <= WINDOW_CHARS
        assert chunk.text == text_of(content, chunk) and chunk.title.endswith(("run_nightly", "RunNightly"))
    covered = {n for c in chunks for n in range(c.start_line, c.end_line + 1)}
    assert covered == set(range(first, first + 41 + len(tail)))


def test_text_windows_break_at_blank_lines_overlap_and_cover_every_line() -> None:
    lines = [f"line {n}" if n % 8 else "" for n in range(1, 201)]
    content = "\n".join(lines) + "\n"
    chunks = chunk_text(code("notes/plan.txt", content, fmt="text"))

    covered: set[int] = set()
    for chunk in chunks:
        assert chunk.text == text_of(content, chunk)  # whole lines only
        assert chunk.end_line - chunk.start_line + 1 <= WINDOW_LINES
        covered.update(range(chunk.start_line, chunk.end_line + 1))
    assert covered >= {n for n, line in enumerate(lines, 1) if line}
    assert all(not lines[c.end_line] for c in chunks[:-1])  # each window stops before a blank line
    assert all(b.start_line < a.end_line for a, b in itertools.pairwise(chunks))  # overlap
    assert chunks[0].url.endswith(f"#L{chunks[0].start_line}-L{chunks[0].end_line}")


def test_long_lines_never_make_giant_chunks() -> None:
    minified = "var a=1; " * 2000  # one 18,000-character line
    wide = "\n".join("x" * 1500 for _ in range(10))
    for content in (minified, wide):
        chunks = chunk_text(code("static/app.js", content, fmt="text"))
        assert chunks and all(len(c.text) <= MAX_CHARS for c in chunks)
    assert "".join(c.text.replace(" ", "") for c in chunk_text(code("a.js", minified, fmt="text"))) == minified.replace(
        " ", ""
    )


@pytest.mark.parametrize(
    ("content", "first_kept"),
    [
        ("#!/usr/bin/env python\n# Copyright (c) 2024 Acme Corp.\n# All rights reserved.\n\nimport os\n", 5),
        ('# Copyright 2024 Acme\n"""Widgets."""\n', 2),
        ("# Licensing: checks customer license keys.\nimport os\n", 1),  # about licenses, not one
        ("# SPDX-License-Identifier: MIT\n", 1),  # nothing but the header: kept, never an empty file
        ("import os\n# Copyright 2024 Acme\nx = 1\n", 1),  # not the file's first comment
    ],
)
def test_only_a_leading_license_header_is_left_out(content: str, first_kept: int) -> None:
    for chunks in (chunk_python(code("widgets/tools.py", content)), chunk_text(code("tools.sh", content, fmt="text"))):
        assert chunks[0].start_line == first_kept
        assert chunks[-1].end_line == len(split_lines(content))


def test_blank_text_has_no_chunks() -> None:
    assert chunk_text(code("empty.txt", "\n\n  \n", fmt="text")) == []


# --- Markup -------------------------------------------------------------------------------

MARKDOWN = """---
title: Widgets
---
Intro text.

# Widgets

## Install

### From source

Clone it, then:

```bash
# not a heading
make install
```

Setext heading
--------------

Body.
"""


def test_markdown_sections_by_heading_path() -> None:
    chunks = chunk_markdown(code("README.md", MARKDOWN, fmt="markdown"))

    assert spans(chunks) == [
        ("", 1, 4),
        ("Widgets > Install > From source", 10, 17),
        ("Widgets > Setext heading", 19, 22),
    ]
    assert chunks[1].title == "README.md · Widgets > Install > From source"
    assert "# not a heading" in chunks[1].text
    assert chunks[2].text == text_of(MARKDOWN, chunks[2])


def test_an_oversized_section_is_windowed_under_its_heading() -> None:
    body = "\n".join(f"Step {n}." for n in range(150))
    content = f"# Runbook\n\n## Steps\n\n{body}\n"
    chunks = chunk_markdown(code("docs/runbook.md", content, fmt="markdown"))

    assert len(chunks) >= 3
    assert {c.symbol for c in chunks} == {"Runbook > Steps"}
    assert chunks[0].start_line == 3 and chunks[-1].end_line == 154


def test_rst_sections_follow_adornment_order() -> None:
    content = (
        "=====\nGuide\n=====\n\nIntro.\n\n"  # 1-6
        "Pricing\n-------\n\nCosts.\n\n"  # 7-11
        "::\n\n    Indented\n    --------\n\n"  # 12-16: a literal block, not a heading
        "Taxes\n~~~~~\n\nVAT.\n\n"  # 17-21
        "Support\n-------\n\nEmail us.\n"  # 22-25
    )
    chunks = chunk_rst(code("docs/guide.rst", content, fmt="rst"))
    assert spans(chunks) == [
        ("Guide", 1, 5),
        ("Guide > Pricing", 7, 15),
        ("Guide > Pricing > Taxes", 17, 20),
        ("Guide > Support", 22, 25),
    ]


# --- Keywords -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("get_user_name", "get user name"),
        ("getUserName", "get user name"),
        ("HTTPServerError", "http server error"),
        ("parse_HTTPResponse2", "parse http response2"),
        ("self.user_id = getUserName(x)", "user id get name"),
    ],
)
def test_split_identifiers(text: str, words: str) -> None:
    assert split_identifiers(text) == words


def test_every_code_chunk_has_path_symbol_and_split_identifiers_in_its_keywords() -> None:
    chunks = chunk_python(code("widgets/users.py", USERS_PY))
    for chunk in chunks:
        for term in ("widgets/users.py", "widgets", "users", chunk.symbol):
            assert term in chunk.keywords.split()
    assert {"get", "user", "name"} <= set(chunks[1].keywords.split())
    assert {"store", "add"} <= set(chunks[2].keywords.split())

    keywords = chunk_keywords("docs/guide.rst", "Guide > Pricing", "Prices from inventoryService")
    assert {"docs/guide.rst", "guide", "rst", "pricing", "inventory", "service"} <= set(keywords.split())
