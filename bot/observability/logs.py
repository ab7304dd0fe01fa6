"""Log lines of `lorebot run`: JSON objects for log collectors, or plain text for a person.

`LOG_FORMAT=auto` (the default) picks per handler: plain when its stream is a terminal,
JSON lines otherwise (a container, a pipe, a file). Both carry the correlation id of the
Slack event a line belongs to (`bot/slack/correlation.py`), the logger name and the level.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.settings import LogFormat
from bot.slack.correlation import CorrelationFilter

PLAIN = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, correlation_id, message,
    and the traceback as `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "correlation_id": getattr(record, "correlation_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def formatter_for(handler: logging.Handler, log_format: LogFormat) -> logging.Formatter:
    if log_format == "auto":
        stream = getattr(handler, "stream", None)
        is_terminal = getattr(stream, "isatty", None)
        log_format = "plain" if is_terminal is not None and is_terminal() else "json"
    return JsonFormatter() if log_format == "json" else logging.Formatter(PLAIN)


def use_log_format(handler: logging.Handler, log_format: LogFormat) -> None:
    """Give `handler` the correlation id of every record and the formatter for `log_format`."""
    if not any(isinstance(f, CorrelationFilter) for f in handler.filters):
        handler.addFilter(CorrelationFilter())
    handler.setFormatter(formatter_for(handler, log_format))


def configure_service_logging(log_format: LogFormat) -> None:
    """`lorebot run`: every root handler in `log_format`, and the bot's own INFO lines shown."""
    for handler in logging.getLogger().handlers:
        use_log_format(handler, log_format)
    for name in ("bot", "lorebot"):
        if logging.getLogger(name).getEffectiveLevel() > logging.INFO:
            logging.getLogger(name).setLevel(logging.INFO)
