"""Who may see what, end to end: a real sync of the fake Confluence (with page restrictions,
users and groups) into the embedded index, and the real Bolt app on the Slack emulator
answering in channels and DMs under LOREBOT_CONFIG's `[access]` policy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from bot.slack.bot import SlackBot, build_slack_bot
from bot.slack.client import build_web_client
from bot.slack.responder import UNMAPPED_NOTE
from bot.slack.runner import SocketModeRunner
from knowledge.index import SearchFilters
from tests.fakes.confluence_server import FakeConfluence, days_ago
from tests.fakes.slack_server import FakeSlack
from tests.slack_harness import bot_text

GENERAL, HR_CHANNEL, SECURITY = "C0GENERAL", "C0HRTEAM", "C0SECOPS"
ANN_DM, BOB_DM, CARL_DM = "D0ANN", "D0BOB", "D0CARL"


@pytest.fixture
def confluence() -> Iterator[FakeConfluence]:
    with FakeConfluence() as server:
        server.add_space("ENG", "Engineering")
        server.add_space("HR", "People")
        server.add_space("SEC", "Security")
        server.add_page(
            "ENG", "Deploying", "<p>Deploy by merging to main; the pipeline ships it.</p>", when=days_ago(3)
        )
        salaries = server.add_page(
            "HR", "Salary bands", "<p>Salary bands for engineers: levels one to five.</p>", when=days_ago(3)
        )
        server.add_page(
            "HR",
            "Offsite salary review",
            "<p>The salary review at the offsite covers every engineer's band.</p>",
            parent=salaries.id,
            when=days_ago(2),
        )
        server.add_page("HR", "Holidays", "<p>Public holidays and how to book vacation days.</p>", when=days_ago(3))
        server.add_page("SEC", "Incident keys", "<p>Where the incident response keys live: the vault.</p>")
        server.restrict(salaries.id, groups=["hr"])
        server.add_user("acc-ann", "ann@acme.test", groups=["hr", "staff"])
        server.add_user("acc-bob", "bob@acme.test", groups=["staff"])
        yield server


def url(confluence: FakeConfluence, space: str, title: str) -> str:
    return f"{confluence.url}/display/{space}/{quote_plus(title)}"


@pytest.fixture
def settings(confluence: FakeConfluence, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    credentials = f'url = "{confluence.url}"\nusername = "{confluence.username}"\napi_token = "{confluence.api_token}"'
    config = tmp_path / "lorebot.toml"
    config.write_text(
        f"""
[[sources]]
kind = "confluence"
name = "wiki"
spaces = ["ENG", "HR"]
{credentials}

[[sources]]
kind = "confluence"
name = "security"
spaces = ["SEC"]
private = true
{credentials}

[access]
dm_sources = ["wiki"]

[[access.channels]]
match = "#sec-*"
sources = ["security", "wiki"]

[[access.channels]]
match = "{HR_CHANNEL}"
sources = []
"""
    )
    monkeypatch.setenv("LOREBOT_CONFIG", str(config))
    return Settings(data_dir=tmp_path / "data", abstain_threshold=0.2)


@pytest.fixture
async def runtime(settings: Settings, embedder) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, embedder) as runtime:
        summaries = await (await runtime.sync_service()).sync()
        assert [s.error for s in summaries] == [None, None]
        yield runtime


@dataclass
class Workspace:
    fake: FakeSlack
    bot: SlackBot


@pytest.fixture
async def slack(runtime: Runtime) -> AsyncIterator[Workspace]:
    fake = FakeSlack()
    await fake.start()
    fake.add_channel(GENERAL, "general")
    fake.add_channel(SECURITY, "sec-ops")
    fake.add_channel(HR_CHANNEL, "hr-team")
    fake.add_user("U0ANN", "ann@acme.test")
    fake.add_user("U0BOB", "bob@acme.test")
    fake.add_user("U0CARL", None)  # no users:read.email scope, or no email
    client = build_web_client(fake.bot_token, fake.base_url)
    settings = runtime.settings
    bot = build_slack_bot(
        client,
        runtime.conversations,
        runtime.claims,
        await runtime.answerer(),
        runtime.scopes(client),
        delivery_seconds=settings.slack_delivery_seconds,
        retention=timedelta(days=settings.event_retention_days),
        questions_per_minute=0,  # one person asks many questions here
        concurrent_answers=settings.max_concurrent_answers,
        stream_interval=0.05,
    )
    runner = SocketModeRunner(bot, fake.app_token, grace_seconds=10, check_interval=0.2, ping_interval=1.0)
    await runner.start()
    await fake.wait_connected()
    yield Workspace(fake, bot)
    await runner.close()
    await fake.stop()


async def ask(slack: Workspace, channel: str, user: str, text: str, thread_ts: str | None = None) -> tuple[str, str]:
    """A question in a channel (a mention, or a follow-up in a thread) or a DM; the thread and
    lorebot's text in it once answered."""
    fake = slack.fake
    direct = channel.startswith("D")
    body = text if direct or thread_ts else f"<@{fake.bot_user_id}> {text}"
    message = fake.user_message(
        channel, body, user=user, thread_ts=thread_ts, channel_type="im" if direct else "channel"
    )
    thread = thread_ts or message["ts"]
    in_thread = lambda call: call.args.get("thread_ts") == thread  # noqa: E731
    before = len(fake.calls_of("chat.postMessage", in_thread))
    await fake.send_event(message)
    await fake.wait_for("chat.postMessage", count=before + 1, where=in_thread)
    assert await slack.bot.tasks.join(15)
    return thread, bot_text(fake, thread, channel)


async def test_a_restricted_page_is_never_cited_in_a_channel(slack: Workspace, confluence: FakeConfluence):
    _, text = await ask(slack, GENERAL, "U0ANN", "what are the salary bands for engineers?")
    assert url(confluence, "HR", "Salary bands") not in text
    assert url(confluence, "HR", "Offsite salary review") not in text  # inherits the restriction


async def test_a_restricted_page_is_cited_in_a_dm_to_its_group_only(slack: Workspace, confluence: FakeConfluence):
    salaries, offsite = url(confluence, "HR", "Salary bands"), url(confluence, "HR", "Offsite salary review")
    _, ann = await ask(slack, ANN_DM, "U0ANN", "what are the salary bands for engineers?")
    assert salaries in ann
    _, ann_offsite = await ask(slack, ANN_DM, "U0ANN", "what does the offsite salary review cover?")
    assert offsite in ann_offsite
    _, bob = await ask(slack, BOB_DM, "U0BOB", "what are the salary bands for engineers?")
    assert salaries not in bob and offsite not in bob
    assert UNMAPPED_NOTE not in bob  # bob was found; he is just not in the group


async def test_a_private_source_is_used_only_where_the_policy_names_it(slack: Workspace, confluence: FakeConfluence):
    keys = url(confluence, "SEC", "Incident keys")
    _, general = await ask(slack, GENERAL, "U0ANN", "where do the incident response keys live?")
    assert keys not in general
    _, dm = await ask(slack, ANN_DM, "U0ANN", "where do the incident response keys live?")
    assert keys not in dm
    _, security = await ask(slack, SECURITY, "U0ANN", "where do the incident response keys live?")
    assert keys in security


async def test_follow_ups_keep_the_thread_scope(slack: Workspace, confluence: FakeConfluence):
    keys, salaries = url(confluence, "SEC", "Incident keys"), url(confluence, "HR", "Salary bands")
    thread, _ = await ask(slack, SECURITY, "U0BOB", "how do we deploy?")
    _, followup = await ask(slack, SECURITY, "U0BOB", "and where do the incident response keys live?", thread)
    assert keys in followup
    thread, _ = await ask(slack, GENERAL, "U0ANN", "how do we deploy?")
    _, followup = await ask(slack, GENERAL, "U0ANN", "and where do the incident response keys live?", thread)
    assert keys not in followup
    _, followup = await ask(slack, GENERAL, "U0ANN", "what are the salary bands for engineers?", thread)
    assert salaries not in followup  # ann may open it, but the whole channel reads this thread
    thread, _ = await ask(slack, ANN_DM, "U0ANN", "how do we deploy?")
    _, followup = await ask(slack, ANN_DM, "U0ANN", "what are the salary bands for engineers?", thread)
    assert salaries in followup


async def test_an_unmapped_asker_gets_unrestricted_content_and_one_note(slack: Workspace, confluence: FakeConfluence):
    thread, first = await ask(slack, CARL_DM, "U0CARL", "what are the salary bands for engineers?")
    assert url(confluence, "HR", "Salary bands") not in first
    assert UNMAPPED_NOTE in first
    _, both = await ask(slack, CARL_DM, "U0CARL", "and how do we book holidays?", thread)
    assert both.count(UNMAPPED_NOTE) == 1  # said once in the thread
    assert url(confluence, "HR", "Holidays") in both


async def test_a_channel_with_no_source_gets_one_line(slack: Workspace):
    _, text = await ask(slack, HR_CHANNEL, "U0ANN", "how do we deploy?")
    assert text.count("\n") == 0 and "No source may be used in this conversation" in text


async def test_a_restriction_change_alone_refilters_without_embedding(runtime: Runtime, confluence: FakeConfluence):
    salaries = next(p for p in confluence.pages.values() if p.title == "Salary bands")
    retriever = await runtime.retriever()
    channel = SearchFilters(sources=("wiki",), readers=frozenset())  # what a channel may read

    async def found() -> set[str]:
        return {hit.chunk.url for hit in await retriever.search("salary bands for engineers", 5, channel)}

    assert url(confluence, "HR", "Salary bands") not in await found()
    confluence.restrict(salaries.id)  # opened to everyone; the page's version does not change
    wiki, security = await (await runtime.sync_service()).sync()
    assert (wiki.updated, wiki.chunks_embedded, security.updated) == (2, 0, 0)  # the page and its child
    assert url(confluence, "HR", "Salary bands") in await found()


async def test_without_the_channel_name_a_channel_is_matched_by_id_only(slack: Workspace, confluence: FakeConfluence):
    slack.fake.fail("conversations.info", "missing_scope", times=2)
    _, security = await ask(slack, SECURITY, "U0ANN", "where do the incident response keys live?")
    assert url(confluence, "SEC", "Incident keys") not in security  # "#sec-*" cannot match without the name
    _, dm = await ask(slack, ANN_DM, "U0ANN", "what are the salary bands for engineers?")
    assert url(confluence, "HR", "Salary bands") in dm  # a "D…" id is a DM
