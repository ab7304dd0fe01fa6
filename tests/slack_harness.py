"""Shared pieces of the Slack tests: a small real index, and the real Bolt app on the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.channels import SlackChannels
from bot.access.policy import AccessPolicy
from bot.access.readers import AccountDirectory, SlackReaders
from bot.access.scope import ScopeResolver
from bot.answering import Answerer
from bot.answering.extractive import ExtractiveAnswerer
from bot.conversations import SqlConversationStore
from bot.db.engine import session_factory, upgrade
from bot.db.event_claims import SqlEventClaims
from bot.observability.metrics import Metrics
from bot.replica import new_replica_id
from bot.settings import Settings
from bot.slack.bot import SlackBot, build_slack_bot
from bot.slack.claims import ReplicaClaims
from bot.slack.client import build_web_client
from bot.slack.runner import SocketModeRunner
from knowledge.documents import Chunk
from knowledge.index.sqlite import SqliteIndex
from knowledge.ranking import Ranking
from knowledge.retriever import Retriever
from tests.fakes.llm_server import LLMStub
from tests.fakes.slack_server import Call, FakeSlack

if TYPE_CHECKING:
    from bot.answering.llm import LLMAnswerer

CHANNEL = "C0GENERAL"

RETRY_URL = "https://github.com/acme/payments/blob/3f2c1a9/payments/retry.py#L10-L42"
DEPLOY_URL = "https://acme.atlassian.net/wiki/spaces/ENG/pages/42/Deploying+to+production#steps"
TOKENS_URL = "https://github.com/acme/payments/blob/3f2c1a9/auth/tokens.py#L1-L30"
SETUP_URL = "https://acme.atlassian.net/wiki/spaces/ENG/pages/7/Development+environment"

CHUNKS = [
    Chunk(
        "acme/payments",
        "payments/retry.py",
        0,
        "code",
        "payments/retry.py: retry_with_backoff",
        RETRY_URL,
        "payments/retry.py",
        "def retry_with_backoff(request, attempts=5):\n"
        '    """Retry failed payment requests with exponential backoff and jitter."""\n'
        "    for attempt in range(attempts):\n"
        "        delay = min(30, 2 ** attempt) + random.random()\n",
        keywords="payments retry backoff",
        symbol="retry_with_backoff",
        start_line=10,
        end_line=42,
    ),
    Chunk(
        "acme/payments",
        "auth/tokens.py",
        0,
        "code",
        "auth/tokens.py: refresh_access_token",
        TOKENS_URL,
        "auth/tokens.py",
        'def refresh_access_token(session):\n    """Refresh the OAuth access token before it expires."""\n',
        keywords="auth tokens refresh oauth",
        symbol="refresh_access_token",
        start_line=1,
        end_line=30,
    ),
    Chunk(
        "confluence:ENG",
        "42",
        0,
        "page",
        "Deploying to production › Steps",
        DEPLOY_URL,
        "",
        "To deploy to production, merge to main, wait for the green pipeline, then run the release job "
        "in the deploy dashboard. Rollbacks use the previous release tag.",
        anchor="steps",
    ),
    Chunk(
        "confluence:ENG",
        "7",
        0,
        "page",
        "Development environment",
        SETUP_URL,
        "",
        "Install Python 3.11 and Docker, clone the monorepo, then run make dev to start the services locally.",
    ),
]


async def build_index(directory: Path, embedder, chunks: Sequence[Chunk] = CHUNKS) -> SqliteIndex:
    """A real embedded index of `chunks`, embedded with the real model."""
    index = SqliteIndex(directory)
    await index.bind_model(embedder.model_name, embedder.dimension)
    by_document: dict[tuple[str, str], list[Chunk]] = {}
    for chunk in chunks:
        by_document.setdefault((chunk.source, chunk.document_id), []).append(chunk)
    for (source, document_id), document_chunks in by_document.items():
        vectors = await embedder.embed([chunk.embedding_text for chunk in document_chunks])
        await index.replace_document(source, document_id, document_chunks, vectors)
    return index


@dataclass
class RunningBot:
    fake: FakeSlack
    store: SqlConversationStore
    bot: SlackBot
    runner: SocketModeRunner

    async def stop(self) -> None:
        await self.runner.close()


OPEN_POLICY = AccessPolicy.build(None, {source: False for source in dict.fromkeys(c.source for c in CHUNKS)})
"""No `[access]` table over the sources of CHUNKS: every channel and DM may use all of them."""


def scope_resolver(
    client: AsyncWebClient, policy: AccessPolicy = OPEN_POLICY, accounts: dict[str, AccountDirectory] | None = None
) -> ScopeResolver:
    return ScopeResolver(policy, SlackChannels(client, 60), SlackReaders(client, accounts or {}, 60))


async def start_bot(
    fake: FakeSlack,
    store: SqlConversationStore,
    answerer: Answerer,
    stream_interval: float = 0.05,
    check_interval: float = 0.2,
    max_down: float = 30.0,
    claim_timeout: float = 60.0,
    delivery_seconds: float = 60.0,
    grace_seconds: float = 10.0,
    settings: Settings | None = None,
    metrics: Metrics | None = None,
    policy: AccessPolicy = OPEN_POLICY,
    accounts: dict[str, AccountDirectory] | None = None,
) -> RunningBot:
    """The real Bolt app in socket mode, every Web API call going to the emulator; its claims in
    `store`'s database, its limits from `settings` (default: the defaults); questions scoped by
    `policy`, people's Confluence groups found in `accounts` (source → directory)."""
    settings = settings or Settings()
    client = build_web_client(fake.bot_token, fake.base_url)
    claims = ReplicaClaims(SqlEventClaims(session_factory(store.engine)), new_replica_id(), claim_timeout)
    bot = build_slack_bot(
        client,
        store,
        claims,
        answerer,
        scope_resolver(client, policy, accounts),
        delivery_seconds=delivery_seconds,
        retention=timedelta(days=7),
        questions_per_minute=settings.user_questions_per_minute,
        concurrent_answers=settings.max_concurrent_answers,
        stream_interval=stream_interval,
        metrics=metrics,
    )
    runner = SocketModeRunner(
        bot,
        fake.app_token,
        grace_seconds=grace_seconds,
        check_interval=check_interval,
        max_down=max_down,
        ping_interval=1.0,
    )
    await runner.start()
    return RunningBot(fake, store, bot, runner)


def in_thread(thread_ts: str) -> Callable[[Call], bool]:
    return lambda call: call.args.get("thread_ts") == thread_ts


def bot_text(fake: FakeSlack, thread_ts: str, channel: str = CHANNEL) -> str:
    """What lorebot shows in the thread now (after updates and deletions), joined."""
    return "\n".join(m["text"] for m in fake.thread(channel, thread_ts) if m.get("bot_id"))


async def mention(fake: FakeSlack, text: str, thread_ts: str | None = None) -> dict[str, Any]:
    """A person mentions lorebot: Slack sends app_mention and message for the same post."""
    message = fake.user_message(CHANNEL, f"<@{fake.bot_user_id}> {text}", thread_ts=thread_ts)
    await fake.send_event(fake.mention_of(message))
    await fake.send_event(message)
    return message


async def answered(running: RunningBot, thread_ts: str, channel: str = CHANNEL) -> str:
    """Wait for lorebot's reply in the thread and for its work to finish; the thread's bot text."""
    await running.fake.wait_for("chat.postMessage", where=in_thread(thread_ts))
    assert await running.bot.tasks.join(15)
    return bot_text(running.fake, thread_ts, channel)


# Fixtures: import them into a test module to use them.


@pytest.fixture(scope="module")
async def slack_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> AsyncIterator[SqliteIndex]:
    index = await build_index(tmp_path_factory.mktemp("slack-index"), embedder)
    yield index
    await index.close()


@pytest.fixture
def answerer(slack_index: SqliteIndex, embedder) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(Retriever(slack_index, embedder, 0.6, Ranking(candidates=50, abstain_threshold=0.2)), k=3)


def llm_answerer(slack_index: SqliteIndex, embedder, llm_stub: LLMStub, *, max_retries: int) -> LLMAnswerer:
    """An LLM answerer over the shared index, asking the LLM stub's model."""
    from bot.answering.llm import LLMAnswerer  # litellm: only for the tests that use it

    return LLMAnswerer(
        Retriever(slack_index, embedder, 0.6, Ranking(candidates=50, abstain_threshold=0.35)),
        "openai/stub-model",
        api_base=llm_stub.base_url,
        api_key="sk-test",
        k=3,
        timeout=5,
        max_retries=max_retries,
        history_tokens=Settings().history_token_budget,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'lorebot.db'}"


@pytest.fixture
async def store(database: str) -> AsyncIterator[SqlConversationStore]:
    await upgrade(database)
    store = SqlConversationStore.from_url(database)
    yield store
    await store.close()


@pytest.fixture
async def running(
    fake: FakeSlack, store: SqlConversationStore, answerer: ExtractiveAnswerer
) -> AsyncIterator[RunningBot]:
    running = await start_bot(fake, store, answerer)
    await fake.wait_connected()
    yield running
    await running.stop()
