"""The per-person question limit: a sliding window on an injected clock."""

from __future__ import annotations

import pytest

from bot.slack.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides_and_refused_questions_are_not_counted() -> None:
    clock = Clock()
    limiter = RateLimiter(2, window=60, clock=clock)
    assert limiter.check("alice") == 0
    clock.now += 10
    assert limiter.check("alice") == 0
    clock.now += 10
    assert limiter.check("alice") == pytest.approx(40)  # until the first question leaves the window
    clock.now += 39
    assert limiter.check("alice") == pytest.approx(1)
    assert limiter.check("bob") == 0  # one window per person
    clock.now += 1
    assert limiter.check("alice") == 0  # the first left; the refused ones never counted
    assert limiter.check("alice") == pytest.approx(10)


def test_zero_means_no_limit() -> None:
    limiter = RateLimiter(0, clock=Clock())
    assert all(limiter.check("alice") == 0 for _ in range(1000))


def test_the_refusal_is_one_line_with_the_wait_rounded_up() -> None:
    limiter = RateLimiter(5)
    assert limiter.refusal(41.2) == (
        ":hourglass: You've asked 5 questions in the last minute, which is as many as I take from one person. "
        "Please ask again in 42 seconds."
    )
    assert limiter.refusal(0.3).endswith("Please ask again in 1 second.")
