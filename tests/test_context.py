"""Passages widened to their definition before the prompt (knowledge/context.py), on a real index."""

from __future__ import annotations

from knowledge.chunking import chunk_document
from knowledge.chunking.text import WINDOW_CHARS
from knowledge.context import CONTEXT_CHARS, in_context
from knowledge.index import SearchHit
from tests.slack_harness import build_index
from tests.test_chunking import code
from tests.test_confluence_parser import page


def ledger(steps: int) -> str:
    settle = [
        f"    settled += ledger.settle(batch={n}, retries=3)  # step {n} of the nightly run" for n in range(steps)
    ]
    return "\n".join(
        [
            '"""The card ledger."""',
            "",
            "",
            "def settle_nightly(ledger):",
            "    settled = 0",
            *settle,
            "    return settled",
            "",
            "",
            "def refund(ledger, charge):",
            "    return ledger.reverse(charge)",
            "",
        ]
    )


async def test_a_hit_inside_a_long_function_is_read_with_the_rest_of_it(tmp_path, embedder) -> None:
    content = ledger(30)
    chunks = chunk_document(code("billing/ledger.py", content))
    windows = [c for c in chunks if c.symbol.endswith("settle_nightly")]
    assert len(windows) >= 3 and all(len(c.text) <= WINDOW_CHARS for c in windows)
    index = await build_index(tmp_path, embedder, chunks)
    try:
        middle = SearchHit(windows[1], 1.0)
        [widened] = await in_context(index, [middle])
        function = content.split("\n")[3:36]  # def … return settled
        assert widened.chunk.text == "\n".join(function)  # whole, each overlapping line once, no refund()
        assert widened.chunk.url == middle.chunk.url  # the citation still links to the lines that matched
        [refund] = [c for c in chunks if c.symbol.endswith("refund")]
        assert await in_context(index, [SearchHit(refund, 1.0)]) == [SearchHit(refund, 1.0)]  # nothing to add
    finally:
        await index.close()


async def test_a_very_long_function_is_widened_around_the_hit_up_to_the_cap(tmp_path, embedder) -> None:
    content = ledger(200)
    chunks = chunk_document(code("billing/ledger.py", content))
    windows = [c for c in chunks if c.symbol.endswith("settle_nightly")]
    index = await build_index(tmp_path, embedder, chunks)
    try:
        hit = windows[len(windows) // 2]
        [widened] = await in_context(index, [SearchHit(hit, 1.0)])
        assert hit.text in widened.chunk.text and len(widened.chunk.text) <= CONTEXT_CHARS
        before, _, after = widened.chunk.text.partition(hit.text)
        assert before and after  # grown on both sides, nearest windows first
    finally:
        await index.close()


async def test_a_document_changed_since_the_search_is_not_stitched_to_its_new_version(tmp_path, embedder) -> None:
    chunks = chunk_document(code("billing/ledger.py", ledger(30)))
    index = await build_index(tmp_path, embedder, chunks)
    try:
        middle = SearchHit([c for c in chunks if c.symbol.endswith("settle_nightly")][1], 1.0)
        changed = chunk_document(code("billing/ledger.py", ledger(30).replace("retries=3", "retries=5")))
        await index.replace_document(
            "widgets", "billing/ledger.py", changed, await embedder.embed([c.embedding_text for c in changed])
        )
        assert await in_context(index, [middle]) == [middle]  # answered from the window that was found
    finally:
        await index.close()


async def test_a_hit_inside_a_long_page_section_is_read_with_the_rest_of_the_section(tmp_path, embedder) -> None:
    steps = "".join(f"<p>Step {n}: drain the replica in zone {n}, wait for its queue to empty.</p>" for n in range(40))
    chunks = chunk_document(page(f"<h2>Failover</h2>{steps}<h2>Rollback</h2><p>Revert the last release.</p>"))
    section = [c for c in chunks if c.anchor.endswith("Failover")]
    assert len(section) >= 3 and all(len(c.text) <= WINDOW_CHARS for c in section)
    index = await build_index(tmp_path, embedder, chunks)
    try:
        middle = SearchHit(section[1], 1.0)
        [widened] = await in_context(index, [middle])
        assert widened.chunk.text.startswith(section[0].text) and section[-1].text in widened.chunk.text
        assert "Revert the last release" not in widened.chunk.text  # the next section is not this one
        assert widened.chunk.url == middle.chunk.url
    finally:
        await index.close()
