"""The one grammar of `[n]` markers and code spans, and its three readers agreeing on it:
the prompt (reading the model's markers), the follow-up rewrite, Slack formatting."""

from __future__ import annotations

import re

import pytest

from bot.answering import Citation, Turn
from bot.answering.followup import rewrite_messages
from bot.answering.markers import (
    resolve_markers,
    segments,
    streaming_text,
    strip_markers,
)
from bot.answering.token_budget import TokenBudget
from bot.slack.formatting import to_mrkdwn

CITATIONS = [Citation(n, f"Page {n}", f"https://wiki.example.com/p/{n}") for n in (1, 2, 3)]


@pytest.mark.parametrize(
    ("reply", "available", "text", "cited"),
    [
        ("Deploy with make [1].", 3, "Deploy with make [1].", (1,)),
        ("Both [1, 3] and [source 2].", 3, "Both [1][3] and [2].", (1, 2, 3)),
        (
            "Semicolons [1; 2], spaces [ 3 ], capitals [Source 1].",
            3,
            "Semicolons [1][2], spaces [3], capitals [1].",
            (1, 2, 3),
        ),
        ("Beyond k [4] and zero [0].", 3, "Beyond k and zero.", ()),
        ("Mixed [2, 9].", 3, "Mixed [2].", (2,)),
        (
            "Code `items[1]` and\n```\nx = a[2]\n```\nis code [1].",
            3,
            "Code `items[1]` and\n```\nx = a[2]\n```\nis code [1].",
            (1,),
        ),
        ("Malformed [1.5] and [x] stay text.", 3, "Malformed [1.5] and [x] stay text.", ()),
    ],
)
def test_markers_are_normalized_and_invalid_ones_dropped(reply: str, available: int, text: str, cited: tuple) -> None:
    resolved = resolve_markers(reply, available)
    assert (resolved.text, resolved.cited) == (text, cited)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("a `x[1]` b", ["`x[1]`"]),
        ("fenced ```x[1]``` mid-line", ["```x[1]```"]),  # Slack's rule: a fence may start anywhere
        ("open block\n```\nx = a[1]", ["```\nx = a[1]"]),  # still streaming: code to the end
        ("an empty `` pair [1] and `y`", ["``", "`y`"]),  # the pair cannot swallow the prose after it
        ("a lone ` backtick [1]", []),
        ("inline code stops at a line end: `a\n[1]` b", []),
    ],
)
def test_code_spans(text: str, code: list[str]) -> None:
    pieces = list(segments(text))
    assert "".join(piece for piece, _ in pieces) == text
    assert [piece for piece, is_code in pieces if is_code] == code


def test_an_empty_backtick_pair_does_not_hide_the_citation_after_it_from_slack() -> None:
    # Slack formatting used to need a character between backticks, so `` opened a span up to the next backtick.
    url = CITATIONS[0].url
    assert to_mrkdwn("An empty `` pair, then [1] and `x[1]`.", CITATIONS) == (
        f"An empty `` pair, then <{url}|[1]> and `x[1]`."
    )


def test_slack_links_every_form_of_marker() -> None:
    one, two = CITATIONS[0].url, CITATIONS[1].url
    assert to_mrkdwn("See [source 1] and [1; 2].", CITATIONS) == f"See <{one}|[1]> and <{one}|[1]><{two}|[2]>."


def test_the_rewrite_transcript_drops_markers_but_not_code() -> None:
    history = [
        Turn("user", "How do I read the first item?"),
        Turn("assistant", "Use `items[1]` [1] or [source 2], as in\n```\nfirst = items[1]\n```"),
    ]
    budget = TokenBudget(1500, lambda text: len(text) // 4)
    transcript = rewrite_messages("and the last one?", history, budget)[1]["content"]
    assert "Assistant: Use `items[1]` or, as in\n```\nfirst = items[1]\n```" in transcript


def test_streaming_text_hides_half_written_and_invalid_markers() -> None:
    assert streaming_text("Run make [1] then [", 2) == "Run make [1] then"
    assert streaming_text("Run make [1] then [so", 2) == "Run make [1] then"
    assert streaming_text("Run make [1] then [7] ok", 2) == "Run make [1] then ok"


def test_streaming_text_keeps_a_bracket_that_is_code() -> None:
    assert streaming_text("Like this:\n```\nvalues = [1, 2", 2) == "Like this:\n```\nvalues = [1, 2"
    assert streaming_text("Call `f([1]` then [", 2) == "Call `f([1]` then"


def test_strip_markers_leaves_no_space_before_the_punctuation() -> None:
    assert strip_markers("Run make deploy [1][2]. Then wait [source 3].") == "Run make deploy. Then wait."


READERS_AGREE = [
    "Plain [1] and listed [2, 3].",
    "An empty `` pair [1] and `code[2]` after it [3].",
    "Inline `a[1]` then [2]; a fence ```x[3]``` mid-line, then [3].",
    "Open block [1]\n```\ny = z[2]",
    "Forms [source 2], [1; 3], [ 2 ].",
    "Unclosed ` backtick [1] and `closed [2]` [3].",
]


@pytest.mark.parametrize("text", READERS_AGREE)
def test_prompt_and_slack_read_the_same_markers(text: str) -> None:
    linked = {int(n) for n in re.findall(r"\|\[(\d+)\]>", to_mrkdwn(text, CITATIONS))}
    assert linked == set(resolve_markers(text, 3).cited)
    code = [piece for piece, is_code in segments(text) if is_code]
    assert [piece for piece, is_code in segments(strip_markers(text)) if is_code] == code
