"""Confluence storage format (XHTML with `ac:`/`ri:` elements) to clean text sections.

Sections split at h1–h6 (outside tables, lists and macros); the text before the first
heading is a section with an empty heading. Code macros stay fenced with their
language, tables read row by row with their column names, panel-like macros keep
their text with a label, links keep their text, user mentions become `@name`, images
and attachments are named. `html.parser` is lenient, so broken markup still yields
text; `plain_text` is the last resort when even that fails.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, PageElement, ProcessingInstruction, Tag

HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Layout wrappers a heading may sit in and still start a section.
_CONTAINERS = frozenset({"div", "section", "body", "html", "ac:layout", "ac:layout-section", "ac:layout-cell"})
_BLOCKS = (
    HEADINGS
    | _CONTAINERS
    | frozenset(
        {
            "p",
            "pre",
            "blockquote",
            "ul",
            "ol",
            "table",
            "hr",
            "dl",
            "ac:structured-macro",
            "ac:task-list",
            "ac:rich-text-body",
            "ac:adf-extension",
            "ac:adf-node",
            "ac:adf-content",
        }
    )
)
_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
_LABELS = {"info": "Info", "note": "Note", "warning": "Warning", "tip": "Tip", "error": "Error", "success": "Success"}
_INLINE_MACROS = frozenset({"status", "jira", "anchor"})
_SILENT_MACROS = frozenset(
    {
        "toc",
        "children",
        "pagetree",
        "anchor",
        "recently-updated",
        "contentbylabel",
        "attachments",
    }
)
_EMOTICONS = {
    "smile": "🙂",
    "sad": "🙁",
    "cheeky": "😛",
    "laugh": "😀",
    "wink": "😉",
    "thumbs-up": "👍",
    "thumbs-down": "👎",
    "information": "ℹ️",
    "tick": "✅",
    "cross": "❌",
    "warning": "⚠️",
    "plus": "➕",
    "minus": "➖",
    "question": "❓",
    "light-on": "💡",
    "light-off": "💡",
    "yellow-star": "⭐",
    "red-star": "⭐",
    "green-star": "⭐",
    "blue-star": "⭐",
    "heart": "❤️",
    "broken-heart": "💔",
}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")


@dataclass(frozen=True)
class Section:
    heading: str  # "" for the text before the first heading
    level: int  # 1–6; 0 before the first heading
    text: str


def parse_storage(xhtml: str) -> list[Section]:
    """Split a page body into sections at its headings, in page order."""
    soup = BeautifulSoup(xhtml, "html.parser")
    sections: list[Section] = []
    heading, level = "", 0
    pending: list[PageElement | None] = []

    def close() -> None:
        text = "\n\n".join(_blocks_of(pending))
        if level or text:
            sections.append(Section(heading, level, text))
        pending.clear()

    def walk(node: Tag) -> None:
        nonlocal heading, level
        for child in node.children:
            if isinstance(child, Tag) and child.name in HEADINGS:
                close()
                heading, level = _one_line(_inline(child)), int(child.name[1])
            elif isinstance(child, Tag) and child.name in _CONTAINERS and child.find(HEADINGS):
                pending.append(None)  # a container is a block: never merge its text with a neighbour's
                walk(child)
                pending.append(None)
            else:
                pending.append(child)

    walk(soup)
    close()
    return sections


def plain_text(xhtml: str) -> str:
    """Best-effort text of markup that cannot be parsed: tags dropped, CDATA kept."""
    text = re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", xhtml, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]*>", " ", text))
    return _paragraph(text)


def _blocks_of(children: Iterable[PageElement | None]) -> list[str]:
    """Render sibling nodes: runs of inline content become paragraphs, blocks render themselves."""
    blocks: list[str] = []
    run: list[str] = []

    def flush() -> None:
        paragraph = _paragraph("".join(run))
        if paragraph:
            blocks.append(paragraph)
        run.clear()

    for child in children:
        if child is None:
            flush()
        elif isinstance(child, Tag) and _is_block(child):
            flush()
            blocks.extend(block for block in _block(child) if block.strip())
        else:
            run.append(_inline(child))
    flush()
    return blocks


def _is_block(node: PageElement) -> bool:
    if not isinstance(node, Tag) or node.name not in _BLOCKS:
        return False
    return node.name != "ac:structured-macro" or _attr(node, "ac:name").lower() not in _INLINE_MACROS


def _block(tag: Tag) -> list[str]:
    name = tag.name
    if name in HEADINGS:
        return [_one_line(_inline(tag))]
    if name in ("ul", "ol"):
        return [_list(tag, 0)]
    if name == "table":
        return [_table(tag)]
    if name == "pre":
        return [_fence("", tag.get_text())]
    if name == "hr":
        return []
    if name == "ac:structured-macro":
        return _macro(tag)
    if name == "ac:task-list":
        return [_tasks(tag)]
    if name == "ac:adf-extension":  # Cloud editor nodes: render the node, not its duplicate fallback
        node = tag.find("ac:adf-node")
        return _block(node) if node else _blocks_of(tag.children)
    if name == "ac:adf-node":
        kind = _adf_attribute(tag, "panel-type") or _attr(tag, "type")
        content = tag.find("ac:adf-content")
        return _labelled(_LABELS.get(kind, ""), "", _blocks_of(content.children) if content else [])
    return _blocks_of(tag.children)


def _inline(node: PageElement) -> str:
    if isinstance(node, NavigableString):
        return "" if isinstance(node, _SKIPPED_STRINGS) else str(node).replace("\n", " ")  # only <br> breaks
    if not isinstance(node, Tag):  # bs4 has no other kind of node
        return ""
    name = node.name
    if name == "br":
        return "\n"
    if name == "ac:link":
        return _link(node)
    if name == "ac:image":
        return _image(node)
    if name == "ac:emoticon":
        return _emoticon(node)
    if name == "time":
        return _attr(node, "datetime") or node.get_text()
    if name in ("ac:parameter", "ac:placeholder", "ac:adf-attribute", "ac:adf-fallback") or name.startswith("ri:"):
        return ""
    if name == "ac:structured-macro":
        return _inline_macro(node)
    if name == "code":
        text = node.get_text()
        return f"`{text}`" if text.strip() else text
    if _is_block(node):
        return "\n" + "\n".join(_blocks_of(node.children)) + "\n"
    text = "".join(_inline(child) for child in node.children)
    if name == "a" and not text.strip():
        return _attr(node, "href")
    return text


def _link(link: Tag) -> str:
    body = link.find(("ac:plain-text-link-body", "ac:link-body"))
    if body is not None and body.get_text().strip():
        return "".join(_inline(child) for child in body.children)
    user = link.find("ri:user")
    if user is not None:
        return "@" + (
            _attr(user, "ri:username") or _attr(user, "ri:userkey") or _attr(user, "ri:account-id") or "unknown user"
        )
    target = link.find(("ri:page", "ri:blog-post"))
    if target is not None:
        return _attr(target, "ri:content-title")
    attachment = link.find("ri:attachment")
    if attachment is not None:
        return f"[attachment: {_attr(attachment, 'ri:filename')}]"
    space = link.find("ri:space")
    if space is not None:
        return _attr(space, "ri:space-key")
    return _attr(link, "ac:anchor")


def _image(image: Tag) -> str:
    source = image.find(("ri:attachment", "ri:url"))
    name = ""
    if source is not None:
        name = _attr(source, "ri:filename") or _attr(source, "ri:value").rstrip("/").rsplit("/", 1)[-1]
    described = _attr(image, "ac:alt") or _attr(image, "ac:title")
    caption = image.find("ac:caption")
    if caption is not None:
        described = _one_line(caption.get_text()) or described
    label = ", ".join(part for part in (name, described) if part) or "unnamed"
    return f"[image: {label}]"


def _emoticon(emoticon: Tag) -> str:
    name = _attr(emoticon, "ac:name")
    return (
        _attr(emoticon, "ac:emoji-fallback")
        or _attr(emoticon, "ac:emoji-shortname")
        or _EMOTICONS.get(name)
        or (f":{name}:" if name else "")
    )


def _parameters(macro: Tag) -> dict[str, str]:
    return {_attr(p, "ac:name"): p.get_text().strip() for p in macro.find_all("ac:parameter", recursive=False)}


def _macro(macro: Tag) -> list[str]:
    name = _attr(macro, "ac:name").lower()
    parameters = _parameters(macro)
    if name in _SILENT_MACROS:
        return []
    plain = macro.find("ac:plain-text-body", recursive=False)
    if name in ("code", "noformat") or (plain is not None and macro.find("ac:rich-text-body", recursive=False) is None):
        code = _fence(parameters.get("language", "") if name == "code" else "", plain.get_text() if plain else "")
        title = parameters.get("title", "")
        return [f"{title}\n{code}" if title else code]
    rich = macro.find("ac:rich-text-body", recursive=False)
    body = _blocks_of(rich.children) if rich is not None else []
    if not body and rich is None:
        text = _inline_macro(macro)
        return [text] if text else []
    return _labelled(_LABELS.get(name, ""), parameters.get("title", ""), body)


def _inline_macro(macro: Tag) -> str:
    """Macros used inside a line: status lozenges, Jira keys; others keep their body text."""
    parameters = _parameters(macro)
    name = _attr(macro, "ac:name").lower()
    if name == "status":
        return parameters.get("title", "")
    if name == "jira":
        return parameters.get("key", "")
    if name in _SILENT_MACROS:
        return ""
    body = macro.find(("ac:rich-text-body", "ac:plain-text-body"), recursive=False)
    return " ".join(_blocks_of(body.children)) if body is not None else ""


def _labelled(label: str, title: str, body: list[str]) -> list[str]:
    """`Note: title` then the body; with no title the label leads the first paragraph."""
    head = ": ".join(part for part in (label, title) if part)
    if not head:
        return body
    if title or not body:
        return [head, *body]
    return [f"{head}: {body[0]}", *body[1:]]


def _adf_attribute(node: Tag, key: str) -> str:
    for attribute in node.find_all("ac:adf-attribute", recursive=False):
        if attribute.get("key") == key:
            return attribute.get_text().strip()
    return ""


def _list(tag: Tag, depth: int) -> str:
    lines: list[str] = []
    indent = "  " * depth
    for number, item in enumerate((c for c in tag.children if isinstance(c, Tag)), start=1):
        marker = f"{number}." if tag.name == "ol" else "-"
        children = list(item.children) if item.name == "li" else [item]  # stray non-<li> items too
        nested = [c for c in children if isinstance(c, Tag) and c.name in ("ul", "ol")]
        own = [c for c in children if not any(c is sub for sub in nested)]
        blocks = _blocks_of(own)
        first, rest = (blocks[0], blocks[1:]) if blocks else ("", [])
        lines.append(f"{indent}{marker} {first}".rstrip())
        lines.extend(_indent(block, indent + "  ") for block in rest)
        lines.extend(_list(sub, depth + 1) for sub in nested)
    return "\n".join(line for line in lines if line.strip())


def _table(table: Tag) -> str:
    rows = [row for row in table.find_all("tr") if row.find_parent("table") is table]
    columns: list[str] = []
    lines: list[str] = []
    for index, row in enumerate(rows):
        cells = [c for c in row.find_all(("th", "td"), recursive=False)]
        values = [_one_line(" ".join(_blocks_of(cell.children))) for cell in cells]
        if index == 0 and cells and all(c.name == "th" for c in cells):
            columns = values
            continue
        if columns:
            parts = [
                f"{column}: {value}" if column else value
                for column, value in zip(columns, values, strict=False)
                if value
            ]
            parts.extend(value for value in values[len(columns) :] if value)
            line = "; ".join(parts)
        elif len(cells) > 1 and cells[0].name == "th":
            line = f"{values[0]}: " + "; ".join(value for value in values[1:] if value)
        else:
            line = " | ".join(value for value in values if value)
        if line.strip():
            lines.append(line)
    return "\n".join(lines)


def _tasks(task_list: Tag) -> str:
    lines = []
    for task in task_list.find_all("ac:task", recursive=False):
        status = task.find("ac:task-status")
        done = status is not None and status.get_text().strip() == "complete"
        body = task.find("ac:task-body")
        text = _one_line(" ".join(_blocks_of(body.children))) if body is not None else ""
        lines.append(f"- [{'x' if done else ' '}] {text}")
    return "\n".join(lines)


def _attr(tag: Tag, name: str) -> str:
    """An attribute as text: "" when missing, space-joined when bs4 made it a list (`class`, `rel`, …)."""
    value = tag.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def _fence(language: str, code: str) -> str:
    return f"```{language}\n{code.strip(chr(10))}\n```"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.split("\n"))


def _paragraph(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\n", " ")).strip()
