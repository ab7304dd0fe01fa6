"""Feedback is used: answers rated up become `lorebot eval` questions."""

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.answering import Answer, Citation
from bot.cli import app
from bot.conversations import AnswerRecord, SqlConversationStore
from bot.db.engine import upgrade
from bot.settings import Settings
from knowledge.documents import Chunk
from knowledge.index import SearchHit


def hit(path: str) -> SearchHit:
    chunk = Chunk(
        source="api",
        document_id=path,
        ordinal=0,
        kind="code",
        title=path,
        url=f"https://github.com/acme/api/blob/abc/{path}#L1-L9",
        path=path,
        text="...",
    )
    return SearchHit(chunk, 0.9, similarity=0.6)


def test_answers_rated_up_become_eval_questions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    url = Settings().resolved_database_url

    async def populate() -> None:
        await upgrade(url)
        store = SqlConversationStore.from_url(url)
        sources = [hit("payments/retry.py"), hit("payments/client.py")]

        async def answer(question: str, reactions: list[tuple[str, str]], removed: str | None = None) -> None:
            a = Answer(
                "It retries [1].",
                False,
                [Citation(1, "retry", sources[0].chunk.url)],
                sources,
                f"standalone: {question}",
                cited_ranks=frozenset({1}),
            )
            answer_id = await store.record_answer(AnswerRecord(None, question, a, "U1", "C1", question, 50.0))
            for user, reaction in reactions:
                await store.add_reaction(answer_id, user, reaction)
            if removed:
                await store.remove_reaction(answer_id, "U2", removed)

        await answer("liked", [("U2", "+1"), ("U3", "tada")])
        await answer("disliked", [("U2", "-1")])
        await answer("like taken back", [("U2", "+1")], removed="+1")
        await store.close()

    asyncio.run(populate())
    out = tmp_path / "from-feedback.jsonl"
    result = CliRunner().invoke(app, ["feedback", "--eval-out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(line["question"], line["expected"]) for line in lines] == [("standalone: liked", ["payments/retry.py"])]
