"""Which Slack events are questions for lorebot."""

from __future__ import annotations

from bot.slack.events import question_from_event

BOT = "U0BOT"


def event(text: str, **extra: object) -> dict:
    return {
        "type": "message",
        "user": "U0ALICE",
        "text": text,
        "ts": "2.0",
        "channel": "C1",
        "channel_type": "channel",
        **extra,
    }


def surface(**kwargs: object) -> str | None:
    question = question_from_event(event(**kwargs), "T1", BOT)  # type: ignore[arg-type]
    return question.surface if question else None


def test_mentions_dms_and_thread_replies() -> None:
    assert surface(text=f"<@{BOT}> where?") == "mention"
    assert surface(text="where?", channel_type="im") == "dm"
    assert surface(text="and then?", thread_ts="1.0") == "followup"
    assert surface(text="just chatting") is None


def test_left_alone() -> None:
    assert surface(text="<@U0BOB> can you look?", thread_ts="1.0") is None
    assert surface(text="edited", subtype="message_changed", thread_ts="1.0") is None
    assert surface(text="joined", subtype="channel_join") is None
    assert surface(text="beep", bot_id="B1", thread_ts="1.0") is None
    assert surface(text=f"<@{BOT}>") is None  # nothing asked
    assert question_from_event(event("hi", user=BOT, channel_type="im"), "T1", BOT) is None


def test_answer_goes_to_the_thread_it_was_asked_in() -> None:
    question = question_from_event(event(f"<@{BOT}> where?", thread_ts="1.0"), "T1", BOT)
    assert question is not None and question.thread_ts == "1.0" and question.text == "where?"
    top = question_from_event(event(f"<@{BOT}> where?", type="app_mention"), "T1", BOT)
    assert top is not None and top.thread_ts == "2.0" and top.dedupe_key == question.dedupe_key
