"""What a declaration is in each language that `syntax.py` chunks with tree-sitter.

Pure rules over parse-tree nodes: which node types are declarations, which of them are
containers (a class body that is split by member when long), which are scopes (a
namespace or module whose members are chunked as if they stood at its level), and how
each is named. Node types are those of the grammars in `tree-sitter-language-pack`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # tree-sitter is imported only when a file is chunked
    from tree_sitter import Node

# A right-hand side that makes `const handler = (…) => {…}` a function, not a constant.
_FUNCTION_VALUES = frozenset(
    {
        "arrow_function",
        "function_expression",
        "function",
        "generator_function",
        "class",
    }
)
_TYPE_NAMES = frozenset({"type_identifier", "identifier", "constant", "field_identifier"})


@dataclass(frozen=True)
class Declaration:
    """A chunk of its own: `outer` is what the chunk spans (with an `export`, say), `node`
    the declaration inside it; `name` is what it adds to the symbol path."""

    outer: Node
    node: Node
    name: tuple[str, ...]
    container: bool


@dataclass(frozen=True)
class Scope:
    """A namespace or module: its members are chunked one by one, under its name.

    `package` scopes (C# namespaces) add their name to the symbol's package prefix, the
    others (TypeScript namespaces, Rust and Ruby modules) to its qualified name."""

    node: Node
    body: Node
    name: str
    package: bool


def text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _field_name(node: Node) -> tuple[str, ...] | None:
    name = text(node.child_by_field_name("name")).strip("\"'`")
    return (name.replace("::", "."),) if name else ("default",)  # `export default class {}`


def type_name(node: Node | None) -> str:
    """The bare type a receiver or `impl` is for: `*Store` → Store, `List[T]` → List."""
    while node is not None and node.type not in _TYPE_NAMES:
        child = node.child_by_field_name("type") or node.child_by_field_name("name")
        node = child if child is not None else (node.named_children[0] if node.named_children else None)
    return text(node)


def _go_name(node: Node) -> tuple[str, ...] | None:
    if node.type == "method_declaration":
        receiver = node.child_by_field_name("receiver")
        parameters = receiver.named_children if receiver is not None else []
        owner = type_name(parameters[0].child_by_field_name("type")) if parameters else ""
        return (owner, text(node.child_by_field_name("name"))) if owner else _field_name(node)
    if node.type == "type_declaration":  # `type ( A int; B string )`: loose, like a const block
        specs = [child for child in node.named_children if child.type in ("type_spec", "type_alias")]
        return _field_name(specs[0]) if len(specs) == 1 else None
    return _field_name(node)


def _script_name(node: Node) -> tuple[str, ...] | None:
    """JavaScript and TypeScript: a variable or class field is a declaration only when it holds a function."""
    if node.type in ("lexical_declaration", "variable_declaration"):
        declarators = [child for child in node.named_children if child.type == "variable_declarator"]
        if len(declarators) != 1:
            return None
        node = declarators[0]
    if node.type in ("variable_declarator", "public_field_definition", "field_definition"):
        value = node.child_by_field_name("value")
        if value is None or value.type not in _FUNCTION_VALUES:
            return None
        name = node.child_by_field_name("name") or node.child_by_field_name("property")
        return (text(name),) if name is not None else None
    return _field_name(node)


def _rust_name(node: Node) -> tuple[str, ...] | None:
    if node.type == "impl_item":
        return (type_name(node.child_by_field_name("type")),)
    return _field_name(node)


@dataclass(frozen=True)
class Grammar:
    """The declaration rules of one language (one tree-sitter grammar)."""

    language: str
    declarations: frozenset[str]
    containers: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    """Scopes that name a package (C# namespaces): their name prefixes the symbol path."""
    packages: frozenset[str] = frozenset()
    """Statements that name the package of what follows (Go `package`, Java `package`)."""
    wrappers: frozenset[str] = frozenset()
    """Statements around a declaration (`export`, `declare`): the chunk spans them."""
    flatten: frozenset[str] = frozenset()
    """Body parts whose children are members (Java's enum body declarations)."""
    attached: frozenset[str] = frozenset({"comment", "line_comment", "block_comment"})
    """Nodes that belong to the declaration directly below them (comments, Rust attributes)."""
    comment_prefixes: tuple[str, ...] = ("//", "/*", "*")
    name: Callable[[Node], tuple[str, ...] | None] = _field_name

    def classify(self, node: Node) -> Declaration | Scope | None:
        """`node` as a declaration or a scope; None for anything else (a loose statement)."""
        inner = self._unwrap(node)
        if inner is None:
            return None
        if inner.type in self.scopes or inner.type in self.namespaces:
            body = inner.child_by_field_name("body")
            if body is None:  # `mod parser;` is a statement
                return None
            scope_name = text(inner.child_by_field_name("name")).strip("\"'").replace("::", ".")
            return Scope(inner, body, scope_name, inner.type in self.namespaces)
        if inner.type in self.declarations:
            name = self.name(inner)
            if name:
                return Declaration(node, inner, name, inner.type in self.containers)
        return None

    def package_name(self, node: Node) -> str | None:
        if node.type not in self.packages:
            return None
        named = node.child_by_field_name("name")
        if named is None:
            named = next((c for c in node.named_children if "identifier" in c.type or c.type == "qualified_name"), None)
        return text(named) or None

    def members(self, body: Node | None) -> list[Node]:
        """The named children of a class or scope body, flattening the parts that only group members."""
        members: list[Node] = []
        for child in body.named_children if body is not None else []:
            members.extend(self.members(child) if child.type in self.flatten else [child])
        return members

    def _unwrap(self, node: Node) -> Node | None:
        if node.type not in self.wrappers:
            return node
        inner = node.child_by_field_name("declaration") or node.child_by_field_name("value")
        if inner is None and node.named_children:  # `declare …`, a TypeScript `namespace` statement
            inner = node.named_children[0]
        return inner


_SCRIPT = Grammar(  # JavaScript (JSX included); TypeScript and TSX are the same rules
    "javascript",
    declarations=frozenset(
        {
            "function_declaration",
            "generator_function_declaration",
            "class_declaration",
            "class",
            "abstract_class_declaration",
            "interface_declaration",
            "type_alias_declaration",
            "enum_declaration",
            "function_signature",
            "lexical_declaration",
            "variable_declaration",
            "method_definition",
            "public_field_definition",
            "field_definition",
            "function_expression",
            "arrow_function",
        }
    ),
    containers=frozenset({"class_declaration", "class", "abstract_class_declaration", "interface_declaration"}),
    scopes=frozenset({"internal_module", "module"}),
    wrappers=frozenset({"export_statement", "ambient_declaration", "expression_statement"}),
    name=_script_name,
)

_JAVA_TYPES = frozenset(
    {
        "class_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "annotation_type_declaration",
    }
)

_CSHARP_TYPES = frozenset(
    {
        "class_declaration",
        "interface_declaration",
        "struct_declaration",
        "record_declaration",
    }
)

GRAMMARS: dict[str, Grammar] = {
    "go": Grammar(
        "go",
        declarations=frozenset({"function_declaration", "method_declaration", "type_declaration"}),
        packages=frozenset({"package_clause"}),
        name=_go_name,
    ),
    "java": Grammar(
        "java",
        declarations=_JAVA_TYPES | {"method_declaration", "constructor_declaration", "compact_constructor_declaration"},
        containers=_JAVA_TYPES,
        packages=frozenset({"package_declaration"}),
        flatten=frozenset({"enum_body_declarations"}),
    ),
    "javascript": _SCRIPT,
    "typescript": replace(_SCRIPT, language="typescript"),
    "tsx": replace(_SCRIPT, language="tsx"),
    "rust": Grammar(
        "rust",
        declarations=frozenset(
            {
                "function_item",
                "function_signature_item",
                "struct_item",
                "enum_item",
                "union_item",
                "trait_item",
                "impl_item",
                "type_item",
                "macro_definition",
            }
        ),
        containers=frozenset({"impl_item", "trait_item"}),
        scopes=frozenset({"mod_item"}),
        attached=frozenset({"line_comment", "block_comment", "attribute_item"}),
        comment_prefixes=("//", "/*", "*", "#["),
        name=_rust_name,
    ),
    "ruby": Grammar(
        "ruby",
        declarations=frozenset({"method", "singleton_method", "class"}),
        containers=frozenset({"class"}),
        scopes=frozenset({"module", "singleton_class"}),  # `class << self`: its methods are the class's
        comment_prefixes=("#",),
    ),
    "csharp": Grammar(
        "csharp",
        declarations=_CSHARP_TYPES
        | {
            "enum_declaration",
            "delegate_declaration",
            "method_declaration",
            "constructor_declaration",
        },
        containers=_CSHARP_TYPES,
        namespaces=frozenset({"namespace_declaration"}),
        packages=frozenset({"file_scoped_namespace_declaration"}),
    ),
}
