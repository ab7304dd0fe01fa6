"""The whole ask path once on the production backends: a git repository and a Confluence space
synced into a real Weaviate server with the sync state in real PostgreSQL, then a question
asked in Slack (the emulator) to `lorebot run`, answered in the thread with links to the file
lines and the page section, and stored in PostgreSQL with its sources."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.run import serve
from bot.conversations import SqlConversationStore
from bot.settings import Settings
from tests.fakes.confluence_server import FakeConfluence
from tests.fakes.slack_server import FakeSlack
from tests.sample_repo import SAMPLE_INDEXED, SampleRepo
from tests.slack_harness import CHANNEL, bot_text, in_thread, mention

PRICING = (
    "<p>How the widget shop sets what a widget costs.</p>"
    "<h1>Price list</h1><p>Widget prices come from the inventory service; the price list is refreshed "
    "every night from its export.</p>"
    "<h1>Discounts</h1><p>Orders of a hundred widgets or more get ten percent off.</p>"
)


async def test_a_question_in_slack_is_answered_from_weaviate_with_file_and_section_links(
    weaviate_server, postgres_url: str, fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not weaviate_server.own:
        pytest.skip("writes the default collection: only on a server started for the tests")
    repo = SampleRepo.with_sample_files(tmp_path / "widgets")
    with FakeConfluence() as confluence:
        confluence.add_space("ENG", "Engineering")
        confluence.add_page("ENG", "Widget pricing", PRICING)
        env = {
            "DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": postgres_url,
            "WEAVIATE_URL": weaviate_server.url,
            "WEAVIATE_GRPC_URL": weaviate_server.grpc_url,
            "REPOS": str(repo.path),
            "CONFLUENCE_URL": confluence.url,
            "CONFLUENCE_SPACES": "ENG",
            "CONFLUENCE_USERNAME": confluence.username,
            "CONFLUENCE_API_TOKEN": confluence.api_token,
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_APP_TOKEN": fake.app_token,
            "SLACK_API_URL": fake.base_url,
        }
        try:
            synced = await asyncio.to_thread(CliRunner().invoke, app, ["sync", "--full", "--json"], env=env)
            assert synced.exit_code == 0, synced.output
            summaries = {s["kind"]: s for s in json.loads(synced.stdout)["sources"]}
            assert summaries["git"]["added"] == len(SAMPLE_INDEXED) and summaries["confluence"]["added"] == 1

            for name, value in env.items():
                monkeypatch.setenv(name, value)
            serving = asyncio.get_running_loop().create_task(serve(Settings()))
            await fake.wait_connected()
            message = await mention(fake, "where do widget prices come from?")
            await fake.wait_for("chat.postMessage", where=in_thread(message["ts"]))
            os.kill(os.getpid(), signal.SIGTERM)  # `lorebot run` finishes the answer in flight, then stops
            await asyncio.wait_for(serving, 60)
        finally:
            index = weaviate_server.index("LorebotChunk")
            await index.clear()
            await index.close()

    text = bot_text(fake, message["ts"])
    section = f"{confluence.url}/display/ENG/Widget+pricing#Widgetpricing-Pricelist"
    lines = f"https://github.com/acme/widgets/blob/{repo.head}/docs/guide.rst?plain=1#L6-L9"  # its Pricing section
    assert f"<{section}|" in text and f"<{lines}|" in text, text
    assert not (tmp_path / "data" / "index").exists()  # everything went to Weaviate

    store = SqlConversationStore.from_url(postgres_url)
    try:
        [answer] = await store.answers_with_feedback()
    finally:
        await store.close()
    assert answer.question == "where do widget prices come from?"
    assert {section, lines} <= {source.url for source in answer.sources if source.cited}
    assert all(call.args.get("channel") == CHANNEL for call in fake.calls_of("chat.postMessage"))
