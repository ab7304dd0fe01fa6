"""Nothing secret leaks: 24 planted secrets of 17 kinds (tests/secret_corpus.py) in a git
repository and a Confluence page, through `lorebot sync`, `search`, `ask` with an LLM
(the stub records every prompt) and the logs at `-v`, with the real pipeline, index and
model. The placeholders of `.env.example` and the text around each secret stay searchable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app
from tests.fakes.confluence_server import FakeConfluence
from tests.fakes.llm_server import LLMStub, RecordedRequest
from tests.sample_repo import SampleRepo
from tests.secret_corpus import CONFLUENCE, PLACEHOLDER_LINES, SecretCorpus, build_corpus

pytestmark = pytest.mark.usefixtures("loopback_only")

QUESTIONS = [
    "How does the billing service connect to the ledger database?",
    "Which Stripe key do card payments use?",
    "How does the reporting exporter post to Slack and pull report templates?",
    "How are outgoing webhooks signed?",
    "What AWS credentials and secret key do the billing settings use?",
]


@pytest.fixture
def corpus() -> SecretCorpus:
    return build_corpus()


@pytest.fixture
def confluence(corpus: SecretCorpus) -> Iterator[FakeConfluence]:
    with FakeConfluence() as server:
        server.add_space("ENG", "Engineering")
        server.add_page("ENG", corpus.page_title, corpus.page_body)
        yield server


@pytest.fixture
def env(corpus: SecretCorpus, confluence: FakeConfluence, tmp_path: Path, llm_stub: LLMStub) -> dict[str, str]:
    repo = SampleRepo.create(tmp_path / "billing", origin="git@github.com:acme/billing.git")
    for path, text in corpus.files.items():
        repo.write(path, text)
    repo.commit("Billing service")
    return {
        "DATA_DIR": str(tmp_path / "data"),
        "REPOS": str(repo.path),
        "CONFLUENCE_URL": confluence.url,
        "CONFLUENCE_SPACES": "ENG",
        "CONFLUENCE_USERNAME": confluence.username,
        "CONFLUENCE_API_TOKEN": confluence.api_token,
        "LLM_MODEL": "openai/stub-model",
        "LLM_API_BASE": llm_stub.base_url,
        "LLM_API_KEY": "sk-test",
    }


async def lorebot(env: dict[str, str], *args: str) -> Result:
    """The CLI in a worker thread, so the LLM stub on this event loop can answer it."""
    root_level = logging.getLogger().level
    try:
        result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    finally:
        logging.getLogger().setLevel(root_level)  # `-v` raises it for the process
    assert result.exit_code == 0, result.output
    return result


def leaked(corpus: SecretCorpus, text: str | bytes) -> list[str]:
    """The planted secrets any piece of which is in `text` (as it is, or in lower case)."""
    data = text.encode() if isinstance(text, str) else text
    return [
        p.value
        for p in corpus.planted
        if any(piece.encode() in data or piece.lower().encode() in data for piece in p.pieces)
    ]


def prompts(requests: list[RecordedRequest]) -> str:
    return "\n".join(str(message.get("content", "")) for request in requests for message in request.messages)


async def test_no_planted_secret_reaches_the_index_output_prompts_or_logs(
    corpus: SecretCorpus,
    env: dict[str, str],
    tmp_path: Path,
    llm_stub: LLMStub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    # The worst model: one that repeats its whole prompt as the answer.
    llm_stub.respond_with(lambda request: "[1] " + str(request.messages[-1]["content"]))
    outputs: list[str] = []

    plain = await lorebot(env, "sync", "-v")
    outputs.append(plain.output)
    in_repo = [p for p in corpus.planted if p.where != CONFLUENCE]
    added = len(corpus.files)
    assert (
        f"billing (git): {added} added, 0 updated, 0 deleted, 0 skipped, {len(in_repo)} secrets redacted"
        in plain.stdout
    )
    assert "confluence (confluence): 1 added" in plain.stdout
    assert f"{len(corpus.planted)} secrets redacted" in plain.stdout.splitlines()[-1]
    assert any(
        m.startswith("billing: redacted 3 secrets in app/settings.py (AWS access key id at line 3")
        for m in caplog.messages
    )

    full = await lorebot(env, "sync", "--full", "--json")
    outputs.append(full.output)
    summaries = {s["kind"]: s for s in json.loads(full.stdout)["sources"]}
    assert summaries["git"]["redacted"] == len(in_repo)
    assert summaries["confluence"]["redacted"] == len(corpus.in_file(CONFLUENCE))

    searches = [
        await lorebot(env, "search", query, "-k", "10", "--json")
        for query in [*QUESTIONS, "token", "password", "secret key", "private key"]
    ]
    outputs += [s.stdout for s in searches]
    snippets = [r["snippet"] for s in searches for r in json.loads(s.stdout)["results"]]
    assert any("[redacted: " in snippet for snippet in snippets)

    for question in QUESTIONS:
        answer = json.loads((await lorebot(env, "ask", question, "--json")).stdout)
        assert not answer["abstained"], question
        outputs.append(json.dumps(answer))
    sent = prompts(llm_stub.requests)
    assert len(llm_stub.requests) >= len(QUESTIONS)
    for kind in ("password in URL", "Stripe key", "Slack token", "GitHub token", "private key", "AWS secret key"):
        assert f"[redacted: {kind}]" in sent  # the passages that held them were sent, redacted

    assert leaked(corpus, sent) == []
    assert leaked(corpus, "\n".join(outputs)) == []
    assert leaked(corpus, caplog.text) == []
    data = tmp_path / "data"
    for file in [*(data / "index").iterdir(), *data.glob("lorebot.db*")]:
        content = file.read_bytes()
        assert leaked(corpus, content) == [], file.name
    index_bytes = b"".join(file.read_bytes() for file in (data / "index").iterdir())
    assert b"[redacted: AWS secret key]" in index_bytes and b"billing_retry_schedule" in index_bytes


async def test_placeholders_and_the_text_around_secrets_stay_searchable(env: dict[str, str]) -> None:
    await lorebot(env, "sync")

    async def top(query: str) -> dict:
        return json.loads((await lorebot(env, "search", query, "-k", "1", "--json")).stdout)["results"][0]

    example = await top("copy to .env and fill in the values: DB_PASSWORD API_TOKEN REDIS_URL")
    assert example["path"] == ".env.example"
    for line in PLACEHOLDER_LINES[:4]:
        assert line in example["snippet"]

    settings = await top("failed invoices are retried after one, three and seven days")
    assert settings["path"] == "app/settings.py" and "#L" in settings["url"]
    after_the_key = await top("receivers verify the signature header before trusting the payload")
    assert after_the_key["path"] == "docs/operations.md"
    page = await top("the export starts at two in the morning before the finance team logs in")
    assert page["kind"] == "page" and "Reporting Service Runbook" in page["title"]


async def test_what_lorebot_keeps_on_disk_is_owner_only(env: dict[str, str], tmp_path: Path) -> None:
    await lorebot(env, "sync")
    data = tmp_path / "data"

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(data) == mode(data / "index") == mode(data / "repos") == 0o700
    files = [*(data / "index").iterdir(), *data.glob("lorebot.db*")]
    assert {f.name for f in files} >= {"index.sqlite3", "lorebot.db"}  # WAL files go at close (test_private_files)
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
