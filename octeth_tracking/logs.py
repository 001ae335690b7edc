"""Log lines: plain text (the default) or one JSON object a line, with no secret in either.

The app logs on two loggers: ``octeth_tracking`` (warnings, and errors with their tracebacks)
and ``octeth_tracking.access`` (one line a request: method, mount point and path, status,
milliseconds, route). No line carries a body, a query string or a header, so none holds an
API key, a session id or the metrics token. With ``OCTETH_TRACKING_LOG_FORMAT=json`` each
line is a JSON object::

    {"time":"2026-11-27T10:00:00.123Z","level":"INFO","logger":"octeth_tracking.access",
     "message":"POST /api/v1/event 200 1.2ms","method":"POST","path":"/api/v1/event",
     "status":200,"duration_ms":1.2,"route":"event"}

and an error's traceback is its ``"exception"`` field (one line still). A host site that keeps
its own logging uses :class:`JSONFormatter` in its configuration instead.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

# What an access line carries besides its message (given as ``extra=`` by the app).
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "route")
TEXT_FORMAT = "%(asctime)s %(message)s"


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the access
    fields when present, and ``exception`` (the traceback as text) for an error."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ACCESS_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of a ``log_format`` setting: ``"text"`` or ``"json"``."""
    return JSONFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`use_log_format` installs (so a second call replaces it)."""


def use_log_format(log_format: str) -> None:
    """Our two loggers write to stderr in ``log_format``, at INFO, and to nothing else (the
    root logger, and so a host's own logging, is left as it is)."""
    logger = logging.getLogger("octeth_tracking")
    for handler in [h for h in logger.handlers if isinstance(h, _OurHandler)]:
        logger.removeHandler(handler)
    handler = _OurHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def configure_logging(log_format: str) -> None:
    """A server process's logging (``serve``, its granian workers): everything to stderr in ``log_format``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its lines would show query strings


class NotThreadCountWarning(logging.Filter):
    """Drops granian's warning that a WSGI app may run many Python threads (it counts
    ``backpressure / 2`` against the CPUs): intended here, since a request waiting for a shared
    commit holds a thread while it waits, and ``--backpressure`` already bounds them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Python threads" not in record.getMessage()


def granian_log_config(log_format: str) -> dict[str, Any]:
    """granian's own logging (``--log-config``): stderr, our format, without its thread-count warning."""
    formatter_class = f"{__name__}.JSONFormatter" if log_format == "json" else "logging.Formatter"
    options = {} if log_format == "json" else {"fmt": "[%(levelname)s] %(message)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"threads": {"()": f"{__name__}.NotThreadCountWarning"}},
        "formatters": {"ours": {"()": formatter_class, **options}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "ours", "filters": ["threads"]}},
        "loggers": {"_granian": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
                    "granian.access": {"handlers": ["stderr"], "level": "WARNING", "propagate": False}},
    }
