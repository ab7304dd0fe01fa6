"""Fitting text and a thread's history into a token budget.

A text over its budget (a pasted 40,000-character log) is cut in the middle, where a visible
note says how much is missing: its start (what was run) and its end (the error) stay. A
history keeps its latest turns: walking back from the newest, each turn that fits is kept
whole, the first one that does not is cut to what is left, and older ones are dropped.

Tokens are counted by a function passed in (litellm's tokenizer for the model, from
`prompt.py`), so this module never imports litellm and the follow-up rewrite can use it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.answering import Turn

TokenCounter = Callable[[str], int]

MESSAGE_OVERHEAD_TOKENS = 4
"""What a chat message costs beyond its text (role and separators), a common estimate."""
MIN_CUT_TOKENS = 32
"""A turn is never cut to less than this: a shorter fragment tells the model nothing."""


def cut_note(characters: int) -> str:
    return f"[… {characters:,} characters cut]"


def _cut(text: str, keep: int) -> str:
    tail = keep // 2
    end = text[len(text) - tail :] if tail else ""
    return f"{text[: keep - tail]}\n{cut_note(len(text) - keep)}\n{end}"


@dataclass(frozen=True)
class TokenBudget:
    tokens: int
    count: TokenCounter

    def cut(self, text: str) -> str:
        """`text` when it fits, else its start and end around a note of the characters cut;
        "" when not even the note fits."""
        tokens = self.count(text)
        if tokens <= self.tokens:
            return text
        keep = len(text)
        while keep > 0:
            keep = max(0, min(keep - 1, int(keep * self.tokens / tokens * 0.95)))
            candidate = _cut(text, keep)
            tokens = self.count(candidate)
            if tokens <= self.tokens:
                return candidate
        return ""

    def history(self, turns: Sequence[Turn]) -> list[Turn]:
        """The latest turns that fit (each costing its text plus `MESSAGE_OVERHEAD_TOKENS`),
        oldest first; the oldest one kept may be cut."""
        kept: list[Turn] = []
        left = self.tokens
        for turn in reversed(turns):
            cost = self.count(turn.text) + MESSAGE_OVERHEAD_TOKENS
            if cost <= left:
                kept.append(turn)
                left -= cost
                continue
            room = left - MESSAGE_OVERHEAD_TOKENS
            if room >= MIN_CUT_TOKENS:
                kept.append(Turn(turn.role, TokenBudget(room, self.count).cut(turn.text)))
            break
        return kept[::-1]
