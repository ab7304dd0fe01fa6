"""Confluence storage format → sections → chunks, on realistic storage-format samples."""

from __future__ import annotations

import logging

import pytest

from knowledge.chunking import chunk_document
from knowledge.chunking.confluence import MAX_CHARS, chunk_page, heading_anchors
from knowledge.chunking.confluence_storage import parse_storage
from knowledge.documents import Document

URL = "https://wiki.example.com/display/ENG/Deploy+Runbook"


def page(content: str, title: str = "Deploy Runbook", deployment: str = "server") -> Document:
    return Document(
        source="confluence",
        external_id="123",
        kind="page",
        title=title,
        url=URL,
        content=content,
        version="7",
        format="confluence_storage",
        path=f"ENG/Operations/{title}",
        breadcrumb=("Engineering", "Operations", title),
        deployment=deployment,
    )


def text_of(xhtml: str) -> str:
    return "\n\n".join(section.text for section in parse_storage(xhtml))


def test_code_macro_keeps_language_and_cdata_verbatim() -> None:
    xhtml = """<p>Run:</p>
<ac:structured-macro ac:name="code" ac:schema-version="1" ac:macro-id="d5a1">
  <ac:parameter ac:name="language">python</ac:parameter>
  <ac:parameter ac:name="title">retry.py</ac:parameter>
  <ac:parameter ac:name="linenumbers">true</ac:parameter>
  <ac:plain-text-body><![CDATA[def retry(n: int) -> bool:
    return n < 3 and "<ok>" != '&amp;'
]]></ac:plain-text-body>
</ac:structured-macro>"""
    assert text_of(xhtml) == (
        "Run:\n\nretry.py\n```python\ndef retry(n: int) -> bool:\n    return n < 3 and \"<ok>\" != '&amp;'\n```"
    )


def test_noformat_and_pre_are_code_blocks_without_language() -> None:
    xhtml = (
        '<ac:structured-macro ac:name="noformat"><ac:plain-text-body><![CDATA[a  b]]>'
        "</ac:plain-text-body></ac:structured-macro><pre>x = 1</pre>"
    )
    assert text_of(xhtml) == "```\na  b\n```\n\n```\nx = 1\n```"


def test_nested_lists_keep_their_shape() -> None:
    xhtml = """<ul><li>Prepare<ul><li><p>Drain the node</p></li><li>Cordon it
      <ol><li>kubectl cordon</li><li>kubectl drain</li></ol></li></ul></li>
      <li>Upgrade</li></ul>"""
    assert text_of(xhtml) == (
        "- Prepare\n  - Drain the node\n  - Cordon it\n    1. kubectl cordon\n    2. kubectl drain\n- Upgrade"
    )


def test_tables_read_row_by_row_with_column_names() -> None:
    xhtml = """<table data-layout="default"><colgroup><col/><col/></colgroup><tbody>
      <tr><th><p><strong>Service</strong></p></th><th><p>Owner</p></th><th><p>Port</p></th></tr>
      <tr><td><p>billing-api</p></td><td><p>Payments</p></td><td><p>8443</p></td></tr>
      <tr><td><p>ledger</p></td><td><p>Finance</p></td><td></td></tr>
    </tbody></table>
    <table><tbody><tr><th>Region</th><td>eu-west-1</td></tr><tr><th>Tier</th><td>gold</td></tr></tbody></table>"""
    assert text_of(xhtml) == (
        "Service: billing-api; Owner: Payments; Port: 8443\nService: ledger; Owner: Finance"
        "\n\nRegion: eu-west-1\nTier: gold"
    )


def test_nested_table_rows_are_not_read_twice() -> None:
    xhtml = (
        "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td><table><tr><td>inner</td></tr></table></td></tr></table>"
    )
    assert text_of(xhtml) == "A: 1; B: inner"


def test_panel_macros_keep_their_text_with_a_label() -> None:
    xhtml = """
<ac:structured-macro ac:name="info"><ac:rich-text-body><p>Backups run nightly.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="warning"><ac:parameter ac:name="title">Data loss</ac:parameter>
  <ac:rich-text-body><p>Never drop the <code>ledger</code> table.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="note"><ac:rich-text-body><p>Ask in #ops.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="tip"><ac:rich-text-body><p>Use the dry run.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">Full log</ac:parameter>
  <ac:rich-text-body><p>line one</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="panel"><ac:parameter ac:name="bgColor">#eee</ac:parameter>
  <ac:rich-text-body><p>Plain panel</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="toc"><ac:parameter ac:name="maxLevel">2</ac:parameter></ac:structured-macro>"""
    assert text_of(xhtml) == (
        "Info: Backups run nightly.\n\nWarning: Data loss\n\nNever drop the `ledger` table.\n\n"
        "Note: Ask in #ops.\n\nTip: Use the dry run.\n\nFull log\n\nline one\n\nPlain panel"
    )


def test_cloud_editor_panel_renders_once_without_its_fallback() -> None:
    xhtml = """<ac:adf-extension><ac:adf-node type="panel"><ac:adf-attribute key="panel-type">note</ac:adf-attribute>
      <ac:adf-content><p>Rotate keys quarterly.</p></ac:adf-content></ac:adf-node>
      <ac:adf-fallback><div class="panel"><p>Rotate keys quarterly.</p></div></ac:adf-fallback></ac:adf-extension>"""
    assert text_of(xhtml) == "Note: Rotate keys quarterly."


def test_links_keep_text_and_mentions_become_names() -> None:
    xhtml = """<p>Ask <ac:link><ri:user ri:account-id="557058:f1d2" /></ac:link>,
      <ac:link><ri:user ri:username="jsmith" /></ac:link> or
      <ac:link><ri:user ri:userkey="8a7f808a" /><ac:plain-text-link-body><![CDATA[Ana Lopez]]></ac:plain-text-link-body></ac:link>;
      see <ac:link><ri:page ri:content-title="On-call rota" ri:space-key="OPS" /></ac:link>,
      <ac:link><ri:page ri:content-title="Escalation" /><ac:link-body>the <strong>escalation</strong> page</ac:link-body></ac:link>
      and <a href="https://status.example.com">the status page</a>.</p>"""
    assert text_of(xhtml) == (
        "Ask @557058:f1d2, @jsmith or Ana Lopez; see On-call rota, the escalation page and the status page."
    )


def test_images_and_attachments_are_named() -> None:
    xhtml = """<p><ac:image ac:height="250"><ri:attachment ri:filename="diagram.png" /></ac:image></p>
      <p><ac:image ac:alt="Request flow"><ri:url ri:value="https://cdn.example.com/img/flow.svg" /></ac:image>
      and <ac:link><ri:attachment ri:filename="capacity-plan.xlsx" /></ac:link></p>"""
    assert text_of(xhtml) == (
        "[image: diagram.png]\n\n[image: flow.svg, Request flow] and [attachment: capacity-plan.xlsx]"
    )


def test_emoticons_tasks_status_and_dates() -> None:
    xhtml = """<p>Done <ac:emoticon ac:name="tick" /> risky <ac:emoticon ac:name="warning" />
      party <ac:emoticon ac:name="blue-star" ac:emoji-shortname=":tada:" ac:emoji-fallback="🎉" />
      odd <ac:emoticon ac:name="custom-thing" /></p>
      <p>Status <ac:structured-macro ac:name="status"><ac:parameter ac:name="title">IN REVIEW</ac:parameter></ac:structured-macro>
      due <time datetime="2024-06-30" /></p>
      <ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status><ac:task-body>Back up</ac:task-body></ac:task>
      <ac:task><ac:task-id>2</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>Restore test</ac:task-body></ac:task></ac:task-list>"""
    assert text_of(xhtml) == (
        "Done ✅ risky ⚠️ party 🎉 odd :custom-thing:\n\nStatus IN REVIEW due 2024-06-30\n\n"
        "- [x] Back up\n- [ ] Restore test"
    )


@pytest.mark.parametrize(
    "broken",
    [
        "<p>Unclosed paragraph <strong>bold <em>both</p><h2>Next</h2><p>after",
        "<p>a < b and c > d &notanentity; 5 &lt; 6</p><h2>Next</h2><p>after",
        '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[x = 1</p><h2>Next</h2><p>after',
        "</div></p><li>stray item</li><h2>Next</h2><p>after</td></tr>",
    ],
)
def test_broken_markup_gives_best_effort_text(broken: str) -> None:
    chunks = chunk_page(page(broken))
    assert chunks
    assert "after" in " ".join(chunk.text for chunk in chunks)


def test_markup_the_parser_cannot_take_is_indexed_as_plain_text(caplog: pytest.LogCaptureFixture) -> None:
    deep = "<div>" * 5000 + "<p>deep <b>text</b></p><![CDATA[kept]]>" + "</div>" * 5000
    with caplog.at_level(logging.WARNING, logger="knowledge.chunking.confluence"):
        chunks = chunk_document(page(deep))
    assert [chunk.text for chunk in chunks] == ["deep text kept"]
    assert "did not parse" in caplog.text


REALISTIC = """<ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell>
<p>This runbook covers <strong>zero-downtime</strong> deploys of the billing stack.</p>
</ac:layout-cell><ac:layout-cell>
<ac:structured-macro ac:name="info"><ac:rich-text-body><p>Owner: <ac:link><ri:user ri:username="mkoch" /></ac:link></p></ac:rich-text-body></ac:structured-macro>
</ac:layout-cell></ac:layout-section><ac:layout-section ac:type="single"><ac:layout-cell>
<h1>Before you start</h1><p>Check the dashboards.</p>
<h2>Access</h2><p>You need the <em>deployer</em> role.</p>
<h1>Rolling back</h1><p>Use the previous image tag.</p>
<h2>Access</h2><p>Same role as for deploys.</p>
<h3>   </h3><p>Under an empty heading.</p>
</ac:layout-cell></ac:layout-section></ac:layout>"""


def test_sections_split_at_headings_with_breadcrumb_titles_and_server_anchors() -> None:
    chunks = chunk_page(page(REALISTIC))
    assert [(c.title, c.url, c.text) for c in chunks] == [
        (
            "Engineering › Operations › Deploy Runbook",
            URL,
            "This runbook covers zero-downtime deploys of the billing stack.\n\nInfo: Owner: @mkoch",
        ),
        (
            "Engineering › Operations › Deploy Runbook › Before you start",
            URL + "#DeployRunbook-Beforeyoustart",
            "Check the dashboards.",
        ),
        (
            "Engineering › Operations › Deploy Runbook › Before you start › Access",
            URL + "#DeployRunbook-Access",
            "You need the deployer role.",
        ),
        (
            "Engineering › Operations › Deploy Runbook › Rolling back",
            URL + "#DeployRunbook-Rollingback",
            "Use the previous image tag.",
        ),
        (
            "Engineering › Operations › Deploy Runbook › Rolling back › Access",
            URL + "#DeployRunbook-Access.1",
            "Same role as for deploys.",
        ),
        # an empty heading has no anchor of its own: the page link
        ("Engineering › Operations › Deploy Runbook › Rolling back › Access", URL, "Under an empty heading."),
    ]
    assert [c.ordinal for c in chunks] == list(range(6))
    assert all(c.keywords == c.title and c.kind == "page" and c.document_id == "123" for c in chunks)
    assert chunks[1].anchor == "DeployRunbook-Beforeyoustart"


def test_cloud_anchors_replace_spaces_with_dashes_and_are_percent_encoded() -> None:
    chunks = chunk_page(
        page(
            "<h2>Step 1: open the (old) console</h2><p>a</p><h2>Über uns</h2><p>b</p><h2>Step 1: open the (old) console</h2><p>c</p>",
            deployment="cloud",
        )
    )
    assert [c.url.split("#")[1] for c in chunks] == [
        "Step-1:-open-the-(old)-console",
        "%C3%9Cber-uns",
        "Step-1:-open-the-(old)-console.1",
    ]


def test_server_anchor_drops_whitespace_and_title_hyphens() -> None:
    assert heading_anchors(
        ["h2", "Target", "h2 2", "Step-by-step guide", "Target"], "Cosmere Test Child-Page", cloud=False
    ) == [
        "CosmereTestChildPage-h2",
        "CosmereTestChildPage-Target",
        "CosmereTestChildPage-h22",
        "CosmereTestChildPage-Step-by-stepguide",
        "CosmereTestChildPage-Target.1",
    ]


def test_oversized_sections_are_windowed_and_code_stays_fenced() -> None:
    paragraphs = "".join(f"<p>Paragraph {n} " + "word " * 60 + "</p>" for n in range(12))
    code = "\n".join(f"line_{n} = compute({n})" for n in range(150))
    xhtml = (
        f'<h2>Big</h2>{paragraphs}<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">'
        f"python</ac:parameter><ac:plain-text-body><![CDATA[{code}]]></ac:plain-text-body></ac:structured-macro>"
    )
    chunks = chunk_page(page(xhtml))
    assert len(chunks) > 4
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert {c.url for c in chunks} == {URL + "#DeployRunbook-Big"}
    code_chunks = [c.text for c in chunks if "line_" in c.text]
    assert len(code_chunks) > 1
    assert all(t.startswith("```python\n") and t.endswith("\n```") for t in code_chunks)
    assert "".join(chunks[i].text for i in range(len(chunks))).count("line_149 = compute(149)") == 1


def test_unchanged_sections_keep_their_hash_when_another_section_changes() -> None:
    before = chunk_page(page("<h1>A</h1><p>alpha</p><h1>B</h1><p>beta</p>"))
    after = chunk_page(page("<h1>A</h1><p>alpha</p><h1>B</h1><p>beta, edited</p>"))
    assert before[0].hash == after[0].hash
    assert before[1].hash != after[1].hash


def test_empty_page_has_no_chunks() -> None:
    assert chunk_page(page("")) == []
