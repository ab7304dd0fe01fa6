"""Which Slack messages are questions for lorebot, and where their answers go."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bot.conversations import Thread
from bot.slack.formatting import slack_to_plain

Surface = Literal["mention", "dm", "followup", "command"]
"""Where a question was asked: a mention, a DM, a reply in lorebot's thread, or `/ask`."""

# A reply broadcast to the channel and a message with a file are still a person asking.
ANSWERABLE_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class Question:
    team_id: str
    channel_id: str
    user_id: str
    text: str
    ts: str
    """The asking message."""
    thread_ts: str
    """Where the answer goes: the thread it was asked in, or one started on the asking message."""
    surface: Surface
    received_at: float = field(default_factory=time.monotonic, compare=False)

    @property
    def thread(self) -> Thread:
        return Thread(self.team_id, self.channel_id, self.thread_ts)

    def payload(self) -> dict[str, Any]:
        """What another replica needs to answer it (its claim stores this)."""
        return {name: value for name, value in asdict(self).items() if name != "received_at"}

    @classmethod
    def from_payload(cls, payload: dict[str, Any], received_at: float) -> Question:
        return cls(**payload, received_at=received_at)

    @property
    def dedupe_key(self) -> str:
        """The same for a retried delivery and for the app_mention + message pair of one mention."""
        return f"message:{self.channel_id}:{self.ts}"


def question_from_event(event: dict[str, Any], team_id: str, bot_user_id: str | None) -> Question | None:
    """A question from an `app_mention` or `message` event, or None for what lorebot leaves alone:
    bots (itself included), edits, joins and other subtypes, channel messages not addressed to it,
    and thread replies that mention someone else. Follow-ups are answered only in lorebot's threads,
    which the caller checks."""
    if event.get("subtype") not in ANSWERABLE_SUBTYPES or event.get("bot_id") or event.get("bot_profile"):
        return None
    user = event.get("user")
    raw = event.get("text") or ""
    if not user or user == bot_user_id or not event.get("ts") or not event.get("channel"):
        return None
    text = slack_to_plain(raw, drop_user=bot_user_id)
    if not text:
        return None
    mentioned = set(_USER_MENTION.findall(raw))
    ts = event["ts"]
    thread_ts = event.get("thread_ts")
    if event.get("type") == "app_mention" or (bot_user_id and bot_user_id in mentioned):
        surface: Surface = "mention"
    elif event.get("channel_type") == "im":
        surface = "dm"
    elif thread_ts and thread_ts != ts and not mentioned:
        surface = "followup"
    else:
        return None
    return Question(team_id, event["channel"], user, text, ts, thread_ts or ts, surface)
