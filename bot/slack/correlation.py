"""One reference id per Slack event, carried through every log line of its work."""

from __future__ import annotations

import logging
import uuid
from contextvars import ContextVar

correlation_id: ContextVar[str] = ContextVar("correlation_id", default="-")


def begin(reference: str | None = None) -> str:
    """Set (and return) the reference id for the current task; tasks copy it to their children."""
    value = reference or uuid.uuid4().hex[:8]
    correlation_id.set(value)
    return value


class CorrelationFilter(logging.Filter):
    """Adds `%(correlation_id)s` to every record, so a handler's format can show it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        return True
