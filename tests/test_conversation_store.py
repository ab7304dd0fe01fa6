"""The conversation store on SQLite and PostgreSQL: threads, history, answers, feedback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.answering import Answer, Citation
from bot.conversations import AnswerRecord, SqlConversationStore, Thread, reaction_polarity
from bot.db.engine import upgrade
from knowledge.documents import Chunk
from knowledge.index import SearchHit


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlConversationStore]:
    await upgrade(database_url)
    store = SqlConversationStore.from_url(database_url)
    yield store
    await store.close()


def _answer(text: str = "Use retry_with_backoff [1].") -> Answer:
    hits = [
        SearchHit(
            Chunk("repo", "a.py", 0, "code", "a.py: retry", "https://x/a.py#L1-L5", "a.py", "def retry(): ..."), 0.9
        ),
        SearchHit(Chunk("wiki", "7", 0, "page", "Deploy", "https://wiki/7", "", "deploy steps"), 0.4),
    ]
    return Answer(
        text,
        False,
        [Citation(1, "a.py: retry", "https://x/a.py#L1-L5")],
        hits,
        "retry logic",
        model="extractive",
        cited_ranks=frozenset({1}),
    )


async def test_conversation_is_created_once_per_thread(store: SqlConversationStore) -> None:
    thread = Thread("T1", "C1", "100.1")
    assert await store.find_conversation(thread) is None
    first = await store.conversation(thread)
    assert await store.conversation(thread) == first
    assert await store.find_conversation(thread) == first
    assert await store.conversation(Thread("T1", "C1", "100.2")) != first


async def test_history_is_bounded_and_oldest_first(store: SqlConversationStore) -> None:
    conversation = await store.conversation(Thread("T1", "C1", "1.0"))
    for n in range(6):
        await store.add_message(conversation, "user" if n % 2 == 0 else "assistant", f"message {n}", "U1", f"1.{n}")
    turns = await store.history(conversation, limit=4)
    assert [t.text for t in turns] == ["message 2", "message 3", "message 4", "message 5"]
    assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]


async def test_answer_with_sources_is_found_by_its_message(store: SqlConversationStore) -> None:
    conversation = await store.conversation(Thread("T1", "C1", "5.0"))
    answer_id = await store.record_answer(
        AnswerRecord(conversation, "where is retry?", _answer(), "U1", "C1", "5.1", 123.0)
    )
    assert await store.find_answer("C1", "5.1") == answer_id
    assert await store.find_answer("C1", "5.2") is None
    assert (await store.history(conversation))[-1].role == "assistant"

    [row] = await store.answers_with_feedback()
    assert (row.question, row.standalone_query, row.latency_ms, row.model) == (
        "where is retry?",
        "retry logic",
        123.0,
        "extractive",
    )
    assert [(s.rank, s.cited, s.url) for s in row.sources] == [
        (1, True, "https://x/a.py#L1-L5"),
        (2, False, "https://wiki/7"),
    ]


async def test_reactions_are_feedback_and_removal_is_recorded(store: SqlConversationStore) -> None:
    answer_id = await store.record_answer(AnswerRecord(None, "q", _answer(), "U1", "C1", "9.1", None))
    await store.add_reaction(answer_id, "U2", "+1")
    await store.add_reaction(answer_id, "U3", "x")
    await store.add_reaction(answer_id, "U3", "eyes")
    assert await store.remove_reaction(answer_id, "U3", "x")
    assert not await store.remove_reaction(answer_id, "U3", "x")  # nothing left standing

    [row] = await store.answers_with_feedback()
    reactions = {(r.user_id, r.reaction): r for r in row.reactions}
    assert reactions[("U2", "+1")].polarity == 1 and reactions[("U2", "+1")].removed_at is None
    assert reactions[("U3", "x")].polarity == -1 and reactions[("U3", "x")].removed_at is not None
    assert reactions[("U3", "eyes")].polarity == 0


async def test_answers_are_listed_newest_first(store: SqlConversationStore) -> None:
    for n in range(3):
        await store.record_answer(AnswerRecord(None, f"question {n}", _answer(), "U1", "C1", f"7.{n}", None))
    assert [row.question for row in await store.answers_with_feedback()] == ["question 2", "question 1", "question 0"]


async def test_an_answer_stored_before_posting_gets_its_message_once_posted(store: SqlConversationStore) -> None:
    thread = Thread("T1", "C1", "1.0")
    conversation_id = await store.conversation(thread)
    answer_id = await store.record_answer(AnswerRecord(conversation_id, "q", _answer(), "U1", "C1", None, 10.0))
    assert await store.find_answer("C1", "1.5") is None
    await store.answer_posted(answer_id, "1.5")
    assert await store.find_answer("C1", "1.5") == answer_id
    assert [turn.text for turn in await store.history(conversation_id)] == [_answer().text]


async def test_a_question_asked_again_is_stored_once(store: SqlConversationStore) -> None:
    conversation_id = await store.conversation(Thread("T1", "C1", "1.0"))
    await store.add_message(conversation_id, "user", "how?", "U1", "1.0")
    await store.add_message(conversation_id, "user", "how?", "U1", "1.0")  # answered again by another replica
    await store.add_message(conversation_id, "user", "and then?", "U1", "1.1")
    assert [turn.text for turn in await store.history(conversation_id)] == ["how?", "and then?"]


@pytest.mark.parametrize(
    ("reaction", "polarity"),
    [
        ("+1", 1),
        ("thumbsup", 1),
        ("white_check_mark", 1),
        ("heavy_check_mark", 1),
        ("heart", 1),
        ("tada", 1),
        ("+1::skin-tone-4", 1),
        ("-1", -1),
        ("thumbsdown", -1),
        ("x", -1),
        ("no_entry", -1),
        ("eyes", 0),
    ],
)
def test_reaction_polarity(reaction: str, polarity: int) -> None:
    assert reaction_polarity(reaction) == polarity
