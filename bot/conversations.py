"""Conversations, answers and feedback in the database, behind the `ConversationStore` seam.

A conversation is a Slack thread (team + channel + thread ts). Answers keep their
question, the standalone query and every retrieved source; reactions on an answer's
message become feedback rows. An answer is stored before it is posted (`record_answer`),
and given its Slack message once posted (`answer_posted`). Event claims live in
`bot/db/event_claims.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import selectinload

from bot.answering import Answer, Turn
from bot.db import models
from bot.db.engine import create_engine, session_factory
from bot.db.models import utcnow

POSITIVE_REACTIONS = frozenset({"+1", "thumbsup", "white_check_mark", "heavy_check_mark", "heart", "tada"})
NEGATIVE_REACTIONS = frozenset({"-1", "thumbsdown", "x", "no_entry"})


def reaction_polarity(reaction: str) -> int:
    """+1, -1, or 0 for any other reaction. Skin tones (`+1::skin-tone-3`) count as their base."""
    base = reaction.split("::", 1)[0]
    if base in POSITIVE_REACTIONS:
        return 1
    if base in NEGATIVE_REACTIONS:
        return -1
    return 0


@dataclass(frozen=True)
class Thread:
    team_id: str
    channel_id: str
    thread_ts: str


@dataclass(frozen=True)
class AnswerRecord:
    """What is stored for one answer delivered in Slack."""

    conversation_id: int | None
    question: str
    answer: Answer
    asker_id: str | None
    channel_id: str | None
    message_ts: str | None
    latency_ms: float | None


@dataclass(frozen=True)
class SourceRow:
    rank: int
    score: float
    title: str
    url: str
    source: str
    path: str
    cited: bool


@dataclass(frozen=True)
class ReactionRow:
    user_id: str
    reaction: str
    polarity: int
    created_at: datetime
    removed_at: datetime | None


@dataclass(frozen=True)
class AnswerWithFeedback:
    id: int
    created_at: datetime
    question: str
    standalone_query: str
    text: str
    abstained: bool
    model: str | None
    latency_ms: float | None
    channel_id: str | None
    message_ts: str | None
    sources: list[SourceRow] = field(default_factory=list)
    reactions: list[ReactionRow] = field(default_factory=list)


class ConversationStore(Protocol):
    async def find_conversation(self, thread: Thread) -> int | None: ...

    async def conversation(self, thread: Thread) -> int:
        """The conversation's id, created on first use."""
        ...

    async def add_message(
        self, conversation_id: int, role: str, text: str, user_id: str | None = None, ts: str | None = None
    ) -> None:
        """Add a message; one with the same role and Slack ts is stored once (a question answered again)."""
        ...

    async def history(self, conversation_id: int, limit: int = 10) -> list[Turn]:
        """The last `limit` messages, oldest first."""
        ...

    async def record_answer(self, record: AnswerRecord) -> int:
        """Store the answer, its sources, and the bot's reply as an assistant message."""
        ...

    async def answer_posted(self, answer_id: int, message_ts: str) -> None:
        """The Slack message an answer stored before posting ended up in."""
        ...

    async def find_answer(self, channel_id: str, message_ts: str) -> int | None: ...

    async def add_reaction(self, answer_id: int, user_id: str, reaction: str) -> None: ...

    async def remove_reaction(self, answer_id: int, user_id: str, reaction: str) -> bool: ...

    async def answers_with_feedback(self, limit: int = 50) -> list[AnswerWithFeedback]:
        """Answers newest first, with their sources and reactions."""
        ...

    async def close(self) -> None: ...


class SqlConversationStore:
    """`ConversationStore` on SQLAlchemy async (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)

    @classmethod
    def from_url(cls, url: str) -> SqlConversationStore:
        return cls(create_engine(url))

    async def close(self) -> None:
        await self.engine.dispose()

    async def find_conversation(self, thread: Thread) -> int | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(models.Conversation.id).where(
                    models.Conversation.team_id == thread.team_id,
                    models.Conversation.channel_id == thread.channel_id,
                    models.Conversation.thread_ts == thread.thread_ts,
                )
            )

    async def conversation(self, thread: Thread) -> int:
        found = await self.find_conversation(thread)
        if found is not None:
            return found
        async with self._sessions() as session:
            row = models.Conversation(team_id=thread.team_id, channel_id=thread.channel_id, thread_ts=thread.thread_ts)
            session.add(row)
            try:
                await session.commit()
                return row.id
            except IntegrityError:  # created concurrently by another event of the same thread
                pass
        found = await self.find_conversation(thread)
        assert found is not None
        return found

    async def add_message(
        self, conversation_id: int, role: str, text: str, user_id: str | None = None, ts: str | None = None
    ) -> None:
        async with self._sessions() as session:
            if ts is not None and await session.scalar(
                select(models.Message.id).where(
                    models.Message.conversation_id == conversation_id,
                    models.Message.role == role,
                    models.Message.ts == ts,
                )
            ):
                return
            session.add(models.Message(conversation_id=conversation_id, role=role, text=text, user_id=user_id, ts=ts))
            await session.commit()

    async def history(self, conversation_id: int, limit: int = 10) -> list[Turn]:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(models.Message.role, models.Message.text)
                    .where(models.Message.conversation_id == conversation_id)
                    .order_by(models.Message.id.desc())
                    .limit(limit)
                )
            ).all()
        return [Turn("assistant" if role == "assistant" else "user", text) for role, text in reversed(rows)]

    async def record_answer(self, record: AnswerRecord) -> int:
        answer = record.answer
        row = models.Answer(
            conversation_id=record.conversation_id,
            channel_id=record.channel_id,
            message_ts=record.message_ts,
            asker_id=record.asker_id,
            question=record.question,
            standalone_query=answer.standalone_query,
            text=answer.text,
            abstained=answer.abstained,
            model=answer.model,
            latency_ms=record.latency_ms,
            sources=[
                models.AnswerSource(
                    rank=rank,
                    score=float(hit.score),
                    title=hit.chunk.title,
                    url=hit.chunk.url,
                    source=hit.chunk.source,
                    path=hit.chunk.path,
                    cited=rank in answer.cited_ranks,
                )
                for rank, hit in enumerate(answer.sources, 1)
            ],
        )
        async with self._sessions() as session:
            session.add(row)
            if record.conversation_id is not None:
                session.add(
                    models.Message(
                        conversation_id=record.conversation_id, role="assistant", text=answer.text, ts=record.message_ts
                    )
                )
            await session.commit()
            return row.id

    async def answer_posted(self, answer_id: int, message_ts: str) -> None:
        async with self._sessions() as session:
            answer = await session.get(models.Answer, answer_id)
            if answer is None or answer.message_ts == message_ts:
                return
            if answer.conversation_id is not None:
                message = await session.scalar(
                    select(models.Message)
                    .where(
                        models.Message.conversation_id == answer.conversation_id,
                        models.Message.role == "assistant",
                        models.Message.text == answer.text,
                        models.Message.ts.is_(None) | (models.Message.ts == answer.message_ts),
                    )
                    .order_by(models.Message.id.desc())
                    .limit(1)
                )
                if message is not None:
                    message.ts = message_ts
            answer.message_ts = message_ts
            await session.commit()

    async def find_answer(self, channel_id: str, message_ts: str) -> int | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(models.Answer.id)
                .where(models.Answer.channel_id == channel_id, models.Answer.message_ts == message_ts)
                .limit(1)
            )

    async def add_reaction(self, answer_id: int, user_id: str, reaction: str) -> None:
        async with self._sessions() as session:
            session.add(
                models.Feedback(
                    answer_id=answer_id, user_id=user_id, reaction=reaction[:100], polarity=reaction_polarity(reaction)
                )
            )
            await session.commit()

    async def remove_reaction(self, answer_id: int, user_id: str, reaction: str) -> bool:
        """Mark the user's latest standing reaction of that kind as removed; False if none stood."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(models.Feedback)
                .where(
                    models.Feedback.answer_id == answer_id,
                    models.Feedback.user_id == user_id,
                    models.Feedback.reaction == reaction[:100],
                    models.Feedback.removed_at.is_(None),
                )
                .order_by(models.Feedback.id.desc())
                .limit(1)
            )
            if row is None:
                return False
            row.removed_at = utcnow()
            await session.commit()
            return True

    async def answers_with_feedback(self, limit: int = 50) -> list[AnswerWithFeedback]:
        async with self._sessions() as session:
            rows: Sequence[models.Answer] = (
                await session.scalars(
                    select(models.Answer)
                    .options(selectinload(models.Answer.sources), selectinload(models.Answer.feedback))
                    .order_by(models.Answer.created_at.desc(), models.Answer.id.desc())
                    .limit(limit)
                )
            ).all()
        return [_summary(row) for row in rows]


def _summary(row: models.Answer) -> AnswerWithFeedback:
    return AnswerWithFeedback(
        id=row.id,
        created_at=row.created_at,
        question=row.question,
        standalone_query=row.standalone_query,
        text=row.text,
        abstained=row.abstained,
        model=row.model,
        latency_ms=row.latency_ms,
        channel_id=row.channel_id,
        message_ts=row.message_ts,
        sources=[SourceRow(s.rank, s.score, s.title, s.url, s.source, s.path, s.cited) for s in row.sources],
        reactions=[ReactionRow(f.user_id, f.reaction, f.polarity, f.created_at, f.removed_at) for f in row.feedback],
    )
