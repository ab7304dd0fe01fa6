"""Chunkers by syntax (tree-sitter): Go, TypeScript/TSX, JavaScript/JSX, Java, Rust, Ruby, C#."""

from __future__ import annotations

import logging
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from knowledge.chunking import chunk_document
from knowledge.chunking.syntax import chunk_code
from knowledge.chunking.text import MAX_CHARS
from tests.test_chunking import code, spans, text_of

GO = """\
// Package shop sells widgets.
package shop

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned when a user is missing.
var ErrNotFound = errors.New("not found")

// Store keeps users in memory.
type Store struct {
	users map[int]string
}

// NewStore makes an empty store.
func NewStore() *Store {
	return &Store{users: map[int]string{}}
}

// Add stores a user's name.
// It replaces an earlier name.
func (s *Store) Add(id int, name string) {
	s.users[id] = name
}

// Deprecated: use Lookup.

func (s Store) Lookup(id int) (string, error) {
	name, ok := s.users[id]
	if !ok {
		return "", fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	return name, nil
}

type (
	ID   int
	Name string
)

func (l *List[T]) Push(v T) { l.items = append(l.items, v) }
"""


def test_go_functions_methods_with_receivers_and_types() -> None:
    chunks = chunk_code(code("shop/store.go", GO, fmt="go"))

    assert spans(chunks) == [
        ("shop", 1, 10),  # package comment, clause, imports, a var with its comment
        ("shop.Store", 12, 15),
        ("shop.NewStore", 17, 20),
        ("shop.Store.Add", 22, 26),  # both comment lines directly above belong to it
        ("shop", 28, 28),  # a comment with a blank line below it is loose
        ("shop.Store.Lookup", 30, 36),
        ("shop", 38, 41),  # a type group is loose, like a const block
        ("shop.List.Push", 43, 43),  # generic receiver
    ]
    add = chunks[3]
    assert add.title == "shop/store.go · Store.Add"
    assert add.url == "https://github.com/acme/widgets/blob/abc/shop/store.go#L22-L26"
    assert add.text == text_of(GO, add) and add.text.startswith("// Add stores")
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    keywords = add.keywords.split()
    assert {"shop/store.go", "shop.Store.Add", "store", "add", "users", "name"} <= set(keywords)
    assert not {"func", "nil"} & set(chunks[5].keywords.split())  # keywords of the language are noise


TS = """\
import { Db } from "./db";

export const LIMIT = 10;

/** Keeps users, backed by the database. */
@Injectable()
export class UserStore {
  private cache = new Map<number, string>();

  constructor(private readonly db: Db) {}

  // Adds a user and caches the name.
  async addUser(id: number, name: string): Promise<void> {
    await this.db.insert("users", { id, name });
    this.cache.set(id, name);
  }
}

export interface User {
  id: number;
  name: string;
}

export type UserId = User["id"];

export enum Role { Admin, Member }

/** Formats a user for display. */
export const displayName = (user: User): string => `${user.name} (#${user.id})`;

export default function createStore(db: Db): UserStore {
  return new UserStore(db);
}

namespace Legacy {
  export function oldLookup(id: number) { return id; }
}
"""


def test_typescript_declarations_with_exports_decorators_and_doc_comments() -> None:
    chunks = chunk_code(code("src/users.ts", TS, fmt="typescript"))

    assert spans(chunks) == [
        ("", 1, 3),  # import and a constant: loose
        ("UserStore", 5, 17),  # doc comment, decorator, export: one small class
        ("User", 19, 22),
        ("UserId", 24, 24),
        ("Role", 26, 26),
        ("displayName", 28, 29),  # an exported arrow function is a function
        ("createStore", 31, 33),
        ("", 35, 35),  # `namespace Legacy {`
        ("Legacy.oldLookup", 36, 36),
    ]
    assert chunks[1].title == "src/users.ts · UserStore"
    assert chunks[1].text.startswith("/** Keeps users") and chunks[1].text.endswith("}")
    assert {"user", "store", "add", "cache", "injectable"} <= set(chunks[1].keywords.split())


def big_class(header: str, method: str, footer: str, count: int = 8) -> str:
    """A class of `count` ten-line methods: over MAX_CLASS_LINES, so split by member."""
    body = "".join(
        "\n" + method.format(n=n, lines="".join(f"    value += {i};\n" for i in range(7))) for n in range(count)
    )
    return header + body + footer


TS_METHOD = "  // Method {n}.\n  method{n}(value: number): number {{\n{lines}    return value;\n  }}\n"


def test_a_long_typescript_class_is_split_by_method_never_inside_one() -> None:
    source = big_class(
        "/** Inventory. */\n"  # 1
        "export class Inventory extends Base {\n"  # 2
        "  static LIMIT = 10;\n"  # 3
        "  private names: string[] = [];\n",  # 4
        TS_METHOD,
        "\n  onChange = (value: number) => {\n    this.notify(value);\n  };\n\n  trailer = 1;\n}\n",
    )
    chunks = chunk_code(code("src/inventory.ts", source, fmt="typescript"))

    assert spans(chunks)[:3] == [
        ("Inventory", 1, 4),  # doc comment, header, fields
        ("Inventory.method0", 6, 16),  # its comment, the method, its closing brace
        ("Inventory.method1", 18, 28),
    ]
    assert [c.symbol for c in chunks[1:]] == [
        *(f"Inventory.method{n}" for n in range(8)),
        "Inventory.onChange",
        "Inventory",
    ]
    assert chunks[-1].text == "  trailer = 1;"
    assert chunks[4].title == "src/inventory.ts · Inventory.method3"
    for chunk in chunks[1:9]:
        assert chunk.text.startswith("  // Method") and chunk.text.endswith("  }")


def test_tsx_and_jsx_components() -> None:
    tsx = (
        "import React from 'react';\n"  # 1
        "\n"  # 2
        "type Props = { name: string };\n"  # 3
        "\n"  # 4
        "// Greets by name.\n"  # 5
        "export const Greeting = ({ name }: Props) => <h1>Hello {name}</h1>;\n"  # 6
        "\n"  # 7
        "export default function App() {\n"  # 8
        '  return <Greeting name="widgets" />;\n'  # 9
        "}\n"  # 10
    )
    assert spans(chunk_code(code("web/App.tsx", tsx, fmt="tsx"))) == [
        ("", 1, 1),
        ("Props", 3, 3),
        ("Greeting", 5, 6),
        ("App", 8, 10),
    ]
    jsx = (
        "const React = require('react');\n"  # 1
        "\n"  # 2
        "class Counter extends React.Component {\n"  # 3
        "  state = { count: 0 };\n"  # 4
        "  render() { return <b>{this.state.count}</b>; }\n"  # 5
        "}\n"  # 6
        "\n"  # 7
        "function renderWidget(widget) {\n"  # 8
        "  return <div>{widget.name}</div>;\n"  # 9
        "}\n"  # 10
        "\n"  # 11
        "module.exports = { Counter, renderWidget };\n"  # 12
    )
    assert spans(chunk_code(code("web/app.jsx", jsx, fmt="javascript"))) == [
        ("", 1, 1),
        ("Counter", 3, 6),
        ("renderWidget", 8, 10),
        ("", 12, 12),
    ]


JAVA_METHOD = (
    "    /** Method {n}. */\n    @Override\n    public int method{n}(int value) {{\n{lines}    return value;\n    }}\n"
)


def test_java_symbols_carry_the_package_and_long_classes_split_by_member() -> None:
    source = big_class(
        "package com.acme.shop;\n"  # 1
        "\n"  # 2
        "import java.util.List;\n"  # 3
        "\n"  # 4
        "/**\n * Counts widgets.\n */\n"  # 5-7
        "@Entity\n"  # 8
        "public class Inventory extends Base {\n"  # 9
        "    private final int limit;\n"  # 10
        "\n"  # 11
        "    public Inventory(int limit) {\n        this.limit = limit;\n    }\n",  # 12-14
        JAVA_METHOD,
        "\n    enum Kind { A, B; String label() { return name(); } }\n}\n\ninterface Counter { int count(); }\n",
    )
    chunks = chunk_code(code("src/main/java/com/acme/shop/Inventory.java", source, fmt="java"))

    assert spans(chunks)[:4] == [
        ("com.acme.shop", 1, 3),
        ("com.acme.shop.Inventory", 5, 10),  # Javadoc, annotation, header, field
        ("com.acme.shop.Inventory.Inventory", 12, 14),  # the constructor
        ("com.acme.shop.Inventory.method0", 16, 27),  # Javadoc and annotation belong to it
    ]
    assert [c.symbol for c in chunks[4:]] == [
        *(f"com.acme.shop.Inventory.method{n}" for n in range(1, 8)),
        "com.acme.shop.Inventory.Kind",
        "com.acme.shop.Counter",
    ]
    assert chunks[3].title.endswith(" · Inventory.method0")
    assert chunks[-1].text == "interface Counter { int count(); }"


APACHE_HEADER = (
    "/*\n"
    " * Licensed to the Apache Software Foundation (ASF) under one or more\n"
    " * contributor license agreements.  See the NOTICE file distributed with\n"
    " * this work for additional information regarding copyright ownership.\n"
    " */\n"
    "\n"
)


def test_a_license_header_is_not_indexed_and_line_numbers_stay_the_files() -> None:
    java = APACHE_HEADER + "package com.acme;\n\nimport java.util.List;\n\n/** Counts. */\nclass Counter {}\n"
    go = (
        "// Copyright 2013-2024 The Shop Authors\n// SPDX-License-Identifier: Apache-2.0\n\n"
        "// Package shop sells widgets.\npackage shop\n"
    )

    java_chunks = chunk_code(code("src/main/java/com/acme/Counter.java", java, fmt="java"))
    go_chunks = chunk_code(code("shop.go", go, fmt="go"))

    assert spans(java_chunks) == [("com.acme", 7, 9), ("com.acme.Counter", 11, 12)]
    assert spans(go_chunks) == [("shop", 4, 5)]  # the package's doc comment is not the header
    assert not any("Licensed" in c.text or "Copyright" in c.text for c in [*java_chunks, *go_chunks])


def test_rust_ruby_and_csharp() -> None:
    rust = (
        "use std::fmt;\n"  # 1
        "\n"  # 2
        "/// A point on the grid.\n"  # 3
        "#[derive(Debug, Clone)]\n"  # 4
        "pub struct Point { x: i32, y: i32 }\n"  # 5
        "\n"  # 6
        "impl fmt::Display for Point {\n"  # 7
        "    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {\n"  # 8
        '        write!(f, "({}, {})", self.x, self.y)\n'  # 9
        "    }\n"  # 10
        "}\n"  # 11
        "\n"  # 12
        "const ORIGIN: Point = Point { x: 0, y: 0 };\n"  # 13
    )
    assert spans(chunk_code(code("src/grid.rs", rust, fmt="rust"))) == [
        ("", 1, 1),
        ("Point", 3, 5),
        ("Point", 7, 11),
        ("", 13, 13),
    ]
    ruby = (
        "require 'json'\n"  # 1
        "\n"  # 2
        "module Shop\n"  # 3
        "  # Keeps users.\n"  # 4
        "  class UserStore < Base\n"  # 5
        "    def add_user(id, name)\n"  # 6
        "      @users[id] = name\n"  # 7
        "    end\n"  # 8
        "  end\n"  # 9
        "\n"  # 10
        "  def self.version\n"  # 11
        "    '1.0'\n"  # 12
        "  end\n"  # 13
        "end\n"  # 14
    )
    assert spans(chunk_code(code("lib/shop.rb", ruby, fmt="ruby"))) == [
        ("", 1, 3),
        ("Shop.UserStore", 4, 9),
        ("Shop.version", 11, 13),
    ]
    csharp = (
        "using System;\n"  # 1
        "\n"  # 2
        "namespace Acme.Shop\n"  # 3
        "{\n"  # 4
        "    /// <summary>Keeps users.</summary>\n"  # 5
        "    [Serializable]\n"  # 6
        "    public class UserStore\n"  # 7
        "    {\n"  # 8
        "        public void AddUser(int id, string name) { }\n"  # 9
        "    }\n"  # 10
        "\n"  # 11
        "    public interface INamed { string Name(); }\n"  # 12
        "}\n"  # 13
    )
    assert spans(chunk_code(code("src/UserStore.cs", csharp, fmt="csharp"))) == [
        ("Acme.Shop", 1, 4),
        ("Acme.Shop.UserStore", 5, 10),
        ("Acme.Shop.INamed", 12, 12),
    ]


def test_a_syntax_error_still_chunks_by_declaration() -> None:
    broken = (
        "package shop\n"  # 1
        "\n"  # 2
        "func ok() int {\n"  # 3
        "\treturn 1\n"  # 4
        "}\n"  # 5
        "\n"  # 6
        "func broken( {\n"  # 7
        "\treturn\n"  # 8
        "}\n"  # 9
        "\n"  # 10
        "func after() int { return 2 }\n"  # 11
    )
    chunks = chunk_document(code("shop/broken.go", broken, fmt="go"))
    assert spans(chunks) == [("shop", 1, 1), ("shop.ok", 3, 5), ("shop.broken", 7, 9), ("shop.after", 11, 11)]

    ts = "export function ok() { return 1; }\n\nexport class Half {\n  method() {\n"
    assert ("ok", 1, 1) in spans(chunk_document(code("src/half.ts", ts, fmt="typescript")))


def test_nothing_but_errors_falls_back_to_windows_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    garbage = "this is not java {{{ ((( \n]]] at all\n"
    document = code("src/Garbage.java", garbage, fmt="java")
    with pytest.raises(SyntaxError):
        chunk_code(document)

    with caplog.at_level(logging.WARNING, logger="knowledge.chunking"):
        chunks = chunk_document(document)

    assert spans(chunks) == [("", 1, 2)]
    assert any("src/Garbage.java" in r.getMessage() for r in caplog.records if r.name == "knowledge.chunking")


def test_minified_code_is_windowed_and_blank_code_has_no_chunks() -> None:
    minified = "function a(){return 1}" * 400  # one 8,800-character line
    chunks = chunk_code(code("static/bundle.js", minified, fmt="javascript"))
    assert chunks and all(len(c.text) <= MAX_CHARS for c in chunks)
    assert chunk_code(code("empty.go", "\n\n", fmt="go")) == []


def test_parsers_are_per_thread() -> None:
    document = code("shop/store.go", GO, fmt="go")
    expected = spans(chunk_code(document))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: spans(chunk_code(document)), range(16)))
    assert all(result == expected for result in results)


def test_the_cli_and_the_chunking_package_do_not_import_tree_sitter() -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "import knowledge.chunking\n"
        "from bot.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('tree_sitter')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
