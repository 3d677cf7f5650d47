"""Structured JSON logs, the request id on every line, no personal data, no blocking writes.

Exception messages are never logged: a database error quotes the row it refused, a validation
error the value it got, and those are ticket text and submitters' addresses. A logged exception
keeps its type and its stack (code, not data), which is what finding a bug needs; the request id
ties it to the caller's report.

Lines are written by a background thread: a slow or full stderr (a pipe nobody reads, a stalled
journald) must never stop the event loop. When the queue is full, lines are dropped and counted.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import json
import logging
import logging.handlers
import queue
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
QUEUE_LINES = 10_000
_make_record = logging.getLogRecordFactory()


def _record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Stamp each record, when it is made, with the request it was made in."""
    record = _make_record(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


logging.setLogRecordFactory(_record_with_request_id)


def describe_exception(error: BaseException) -> str:
    """Type and stack of an exception and of its causes, without any message."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.format_list(traceback.extract_tb(current.__traceback__))
        kind = type(current)
        parts.append(
            "".join(frames) + f"{kind.__module__}.{kind.__qualname__} (message withheld)\n"
        )
        current = current.__cause__ or current.__context__
    return "\n--- caused by / during ---\n".join(reversed(parts))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra= fields are kept, the request id is added from context."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and value is not None:
                line[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = describe_exception(record.exc_info[1])
        return json.dumps(line, default=str)

    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        return describe_exception(ei[1]) if ei[1] is not None else ""


class ContextQueueHandler(logging.handlers.QueueHandler):
    """Hand formatted lines to the writer thread; count what a full queue makes us drop."""

    dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        formatted = self.format(record)  # here, where exc_info is still the live exception
        record.msg, record.args, record.exc_info, record.exc_text = formatted, None, None, None
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            type(self).dropped += 1


class _RawHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes the line the queue handler already formatted."""

    def format(self, record: logging.LogRecord) -> str:
        return str(record.msg)


class _Writer(logging.handlers.QueueListener):
    """The thread that writes lines; on stop it waits for room to queue its end marker."""

    def enqueue_sentinel(self) -> None:
        with contextlib.suppress(queue.Full):
            self.queue.put(self._sentinel, timeout=5)  # type: ignore[attr-defined]


_listener: logging.handlers.QueueListener | None = None


def stop_writer() -> None:
    """Write out what is queued and stop the writer thread (at exit, or before reconfiguring)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


atexit.register(stop_writer)


def configure_logging(level: str = "INFO") -> None:
    """Route the root logger (and uvicorn's) through the JSON formatter, written off-loop."""
    global _listener
    stop_writer()
    lines: queue.Queue[logging.LogRecord] = queue.Queue(QUEUE_LINES)
    handler = ContextQueueHandler(lines)
    handler.setFormatter(JsonFormatter())
    _listener = _Writer(lines, _RawHandler(sys.stderr))
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # httpx: a line per request it sends; aiosmtpd ("mail.log"): ~10 per message received
    for chatty in ("alembic", "httpx", "httpcore", "mail.log"):
        logging.getLogger(chatty).setLevel(max(root.level, logging.WARNING))
