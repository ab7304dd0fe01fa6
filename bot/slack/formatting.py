"""Slack mrkdwn: answers with `[n]` markers become messages with links, split to fit.

Slack wants `&`, `<` and `>` escaped everywhere except in its own `<url|label>`
tokens, so every piece of text is escaped first and the links we make are added
afterwards. Messages are cut at paragraph or sentence ends, never inside a link, and a
code block cut in two is closed and reopened.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.answering import Answer, Citation
from bot.answering.markers import FENCE, MARKER_PATTERN, marker_numbers, segments

MESSAGE_LIMIT = 3000
"""Characters per message: a section block's limit, and well inside what Slack shows unfolded."""

_LINK_OR_MARKER = re.compile(rf"\[(?P<label>[^\[\]\n]+)\]\((?P<url>https?://[^)\s]+)\)|{MARKER_PATTERN}")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
_BULLET = re.compile(r"^([ \t]*)[*-][ \t]+", re.MULTILINE)
_SLACK_TOKEN = re.compile(r"<((?:[@#!]|[a-zA-Z][a-zA-Z0-9+.-]*:)[^<>\s]*(?:\|[^<>]*)?)>")
_CUTS = (re.compile(r"\n\n"), re.compile(r"[.!?][)\"'’]?[ \n]"), re.compile(r"\n"), re.compile(r" "))


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    return f"<{escape(url).replace('|', '%7C')}|{escape(label).replace('|', '¦')}>"


def slack_to_plain(slack_text: str, drop_user: str | None = None) -> str:
    """What a person typed, from Slack's encoding: mentions and links as words, entities decoded."""

    def token(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "" if target[1:] == drop_user else f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return f"@{label or target[1:].split('^')[0]}"
        return label or target

    text = _SLACK_TOKEN.sub(token, slack_text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _prose(text: str, citations: Mapping[int, Citation]) -> str:
    text = escape(text)
    text = _HEADING.sub(r"**\1**", text)
    text = _BULLET.sub(r"\1• ", text)
    text = _BOLD.sub(r"*\1*", text)
    text = _STRIKE.sub(r"~\1~", text)

    def replace(match: re.Match[str]) -> str:
        if match.group("url"):
            return f"<{match.group('url').replace('|', '%7C')}|{match.group('label').replace('|', '¦')}>"
        numbers = marker_numbers(match)
        if not all(n in citations for n in numbers):
            return match.group(0)
        return "".join(f"<{escape(citations[n].url).replace('|', '%7C')}|[{n}]>" for n in numbers)

    return _LINK_OR_MARKER.sub(replace, text)


def to_mrkdwn(text: str, citations: Iterable[Citation] = ()) -> str:
    """Markdown-ish answer text as Slack mrkdwn; `[n]` with a citation becomes a link, other markers stay text."""
    by_number = {citation.n: citation for citation in citations}
    return "".join(escape(piece) if is_code else _prose(piece, by_number) for piece, is_code in segments(text))


def _inside_token(window: str, position: int) -> bool:
    return window.rfind("<", 0, position) > window.rfind(">", 0, position)


def _cut_point(text: str, limit: int) -> int:
    window = text[:limit]
    for pattern in _CUTS:
        for match in reversed(list(pattern.finditer(window))):
            position = match.end()
            if position < limit // 4:
                break
            if not _inside_token(window, position):
                return position
    position = limit
    if _inside_token(window, position):
        position = window.rfind("<")
    return position if position > 0 else limit


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Parts of at most `limit` characters, cut at the best boundary before the limit."""
    parts: list[str] = []
    rest = text.strip()
    room = limit - 2 * (len(FENCE) + 1)  # space to close and reopen a code block
    while len(rest) > limit:
        cut = _cut_point(rest, room)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip(" \n")
        if head.count(FENCE) % 2:
            head, rest = f"{head}\n{FENCE}", f"{FENCE}\n{rest}"
        parts.append(head)
    if rest or not parts:
        parts.append(rest)
    return parts


def listed_citations(answer: Answer) -> tuple[str, list[Citation]]:
    """The heading and citations shown under an answer: the cited ones, else the nearest."""
    cited = [c for c in answer.citations if c.n in answer.cited_ranks]
    if cited and not answer.abstained:
        return "Sources", cited
    return "Nearest matches", list(answer.citations)


def sources_text(heading: str, citations: Sequence[Citation], limit: int = MESSAGE_LIMIT) -> str:
    lines = [f"*{heading}*"]
    for index, citation in enumerate(citations):
        line = f"• {link(citation.url, f'[{citation.n}] {citation.title}')}"
        more = f"… and {len(citations) - index} more"
        if sum(len(x) + 1 for x in lines) + len(line) + len(more) + 2 > limit:
            lines.append(more)
            break
        lines.append(line)
    return "\n".join(lines)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text or " "}}


def render_answer(answer: Answer, limit: int = MESSAGE_LIMIT) -> list[SlackMessage]:
    """The final answer as one or more messages; the note and the sources go under the last."""
    parts = split_message(to_mrkdwn(answer.text, answer.citations) or "_(no answer)_", limit)
    tail_blocks: list[dict[str, Any]] = []
    tail_text: list[str] = []
    if answer.note:
        note = f"_{escape(answer.note)}_"
        tail_blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
        tail_text.append(note)
    heading, citations = listed_citations(answer)
    if citations:
        sources = sources_text(heading, citations, limit)
        tail_blocks.append(_section(sources))
        tail_text.append(sources)
    messages = [SlackMessage(part, [_section(part)]) for part in parts[:-1]]
    last = parts[-1]
    messages.append(SlackMessage("\n\n".join([last, *tail_text]), [_section(last), *tail_blocks]))
    return messages


def render_stream(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """An answer still being written: mrkdwn without links yet, split like the final one."""
    return split_message(to_mrkdwn(text), limit)
