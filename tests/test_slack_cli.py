"""`lorebot run` start-up and shutdown, the token checks, and `lorebot feedback`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.answering import Answer, Citation
from bot.cli import app
from bot.cli.run import serve
from bot.conversations import AnswerRecord, SqlConversationStore
from bot.db.engine import upgrade
from bot.settings import Settings
from bot.slack.client import SlackTokenError, build_web_client, verify_tokens
from tests.fakes.slack_server import FakeSlack
from tests.slack_harness import in_thread, mention


def test_run_without_tokens_names_both_settings() -> None:
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 1
    assert "SLACK_BOT_TOKEN and SLACK_APP_TOKEN are not set" in result.output


async def test_rejected_tokens_name_the_setting_to_fix(fake: FakeSlack) -> None:
    with pytest.raises(SlackTokenError, match="SLACK_BOT_TOKEN"):
        await verify_tokens(build_web_client("xoxb-wrong", fake.base_url), fake.app_token)
    with pytest.raises(SlackTokenError, match="SLACK_APP_TOKEN"):
        await verify_tokens(build_web_client(fake.bot_token, fake.base_url), "xapp-wrong")
    identity = await verify_tokens(build_web_client(fake.bot_token, fake.base_url), fake.app_token)
    assert identity.user_id == fake.bot_user_id


async def test_serve_answers_and_stops_cleanly_on_sigterm(fake: FakeSlack, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake.bot_token)
    monkeypatch.setenv("SLACK_APP_TOKEN", fake.app_token)
    monkeypatch.setenv("SLACK_API_URL", fake.base_url)
    serving = asyncio.get_running_loop().create_task(serve(Settings()))
    await fake.wait_connected(timeout=60)  # serve loads the embedding model first: seconds on a busy machine
    message = await mention(fake, "where is the retry logic?")
    [reply] = await fake.wait_for("chat.postMessage", where=in_thread(message["ts"]))
    assert "The index is empty" in reply.args["text"]  # nothing to answer from: it says so
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, 30)
    assert all(call.token in (fake.bot_token, fake.app_token) for call in fake.calls)


async def test_serve_with_a_wrong_token_fails_before_loading_anything(fake: FakeSlack, monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
    monkeypatch.setenv("SLACK_APP_TOKEN", fake.app_token)
    monkeypatch.setenv("SLACK_API_URL", fake.base_url)
    with pytest.raises(SlackTokenError, match="SLACK_BOT_TOKEN"):
        await serve(Settings())


def test_feedback_lists_answers_with_sources_and_reactions(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    url = Settings().resolved_database_url

    async def populate() -> None:
        await upgrade(url)
        store = SqlConversationStore.from_url(url)
        answer = Answer(
            "It retries [1].",
            False,
            [Citation(1, "retry.py", "https://x/retry.py")],
            [],
            "retry",
            cited_ranks=frozenset({1}),
        )
        answer_id = await store.record_answer(AnswerRecord(None, "how does it retry?", answer, "U1", "C1", "1.1", 80.0))
        await store.add_reaction(answer_id, "U2", "+1")
        await store.close()

    asyncio.run(populate())
    result = CliRunner().invoke(app, ["feedback", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)["answers"]
    assert row["question"] == "how does it retry?" and row["score"] == 1
    assert row["reactions"][0]["reaction"] == "+1"
    text = CliRunner().invoke(app, ["feedback"])
    assert "how does it retry?" in text.output and ":+1:" in text.output
