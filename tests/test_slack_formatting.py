"""Answers as Slack mrkdwn: links from [n] markers, escaping, sources, splitting within limits."""

from __future__ import annotations

from bot.answering import Answer, Citation
from bot.slack.formatting import render_answer, slack_to_plain, split_message, to_mrkdwn

URL = "https://github.com/acme/app/blob/abc/retry.py#L1-L9"
CITATIONS = [Citation(1, "retry.py", URL), Citation(2, "Deploy & release", "https://wiki/x?a=1&b=2")]


def answer(
    text: str, cited: frozenset[int] = frozenset({1}), abstained: bool = False, note: str | None = None
) -> Answer:
    return Answer(text, abstained, CITATIONS, [], "q", note=note, cited_ranks=cited)


def test_markers_become_links_and_unknown_markers_stay_text() -> None:
    assert to_mrkdwn("Retries back off [1]; see [3].", CITATIONS) == f"Retries back off <{URL}|[1]>; see [3]."
    assert to_mrkdwn("Both [1, 2].", CITATIONS) == f"Both <{URL}|[1]><https://wiki/x?a=1&amp;b=2|[2]>."


def test_markdown_becomes_mrkdwn_and_text_is_escaped() -> None:
    assert to_mrkdwn("**Note:** a < b && c > d") == "*Note:* a &lt; b &amp;&amp; c &gt; d"
    assert to_mrkdwn("## Steps\n* first\n- second") == "*Steps*\n• first\n• second"
    assert to_mrkdwn("See [the docs](https://x.io/a) and <@U1>") == "See <https://x.io/a|the docs> and &lt;@U1&gt;"


def test_code_is_kept_and_escaped_but_not_linked() -> None:
    text = "Call it:\n```\nif a < b and items[1]:\n    **kwargs\n```\nand `x[1]` [1]"
    assert to_mrkdwn(text, CITATIONS) == (
        f"Call it:\n```\nif a &lt; b and items[1]:\n    **kwargs\n```\nand `x[1]` <{URL}|[1]>"
    )


def test_sources_list_the_cited_ones_and_the_note_is_shown() -> None:
    [message] = render_answer(answer("It retries [1].", note="The model was unavailable."))
    assert message.text.endswith(f"*Sources*\n• <{URL}|[1] retry.py>")
    assert "_The model was unavailable._" in message.text
    assert [b["type"] for b in message.blocks] == ["section", "context", "section"]


def test_abstained_answer_lists_the_nearest_matches() -> None:
    [message] = render_answer(
        answer("I could not find this. The nearest matches: [1], [2].", cited=frozenset(), abstained=True)
    )
    assert "*Nearest matches*" in message.text
    assert "<https://wiki/x?a=1&amp;b=2|[2] Deploy &amp; release>" in message.text


def test_split_prefers_paragraphs_then_sentences_and_never_cuts_a_link() -> None:
    paragraph = "First sentence here. " * 10
    parts = split_message(f"{paragraph}\n\n{paragraph}", limit=300)
    assert parts == [paragraph.strip(), paragraph.strip()]
    linked = " ".join([f"See <{URL}|[1]> now."] * 40)
    for part in split_message(linked, limit=200):
        assert len(part) <= 200 and part.count("<") == part.count(">") and part.endswith(".")


def test_split_closes_and_reopens_a_code_block() -> None:
    code = "```\n" + "\n".join(f"line_{n} = {n}" for n in range(100)) + "\n```"
    parts = split_message(code, limit=400)
    assert len(parts) > 1
    assert all(len(p) <= 400 and p.startswith("```") and p.endswith("```") for p in parts)


def test_long_answer_keeps_every_message_in_limits_and_the_links() -> None:
    text = " ".join(f"Detail {n} is in the code [1]." for n in range(400))
    messages = render_answer(answer(text), limit=3000)
    assert len(messages) > 1
    assert all(len(block["text"]["text"]) <= 3000 for m in messages for block in m.blocks if block["type"] == "section")
    assert sum(m.text.count(f"<{URL}|[1]>") for m in messages) == 400  # every marker kept as a link
    assert f"<{URL}|[1] retry.py>" in messages[-1].text


def test_slack_to_plain_decodes_slack_encoding() -> None:
    assert slack_to_plain("<@U0BOT> where is <https://x.io|the page>? a &lt; b &amp; <#C1|eng>", drop_user="U0BOT") == (
        "where is the page? a < b & #eng"
    )
    assert slack_to_plain("ping <@U0BOB> about <!here>") == "ping @U0BOB about @here"
