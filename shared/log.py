"""Structured JSON logging in Cloud Logging's format, with request context carried implicitly.

Each record is one JSON line on stdout with ``severity``, ``message``, ``time`` and the special
``logging.googleapis.com/trace`` field, so Cloud Logging groups a request's lines under its trace.
``tenant_id``, ``request_id`` and anything passed as ``extra={"fields": {...}}`` become JSON fields.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("log_context", default={})  # noqa: B039 - never mutated, always replaced

TRACE_FIELD = "logging.googleapis.com/trace"
LABELS_FIELD = "logging.googleapis.com/labels"


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Attach ``fields`` (tenant_id, request_id, trace, ...) to every record logged inside."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    return dict(_context.get())


def trace_from_header(header: str | None, project_id: str) -> str | None:
    """Turn an ``X-Cloud-Trace-Context: TRACE/SPAN;o=1`` header into Cloud Logging's trace name."""
    if not header:
        return None
    trace_id = header.split("/", 1)[0].strip()
    return f"projects/{project_id}/traces/{trace_id}" if trace_id else None


class CloudLoggingFormatter(logging.Formatter):
    """Formats records as the JSON that Cloud Logging parses into structured entries."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname if record.levelname != "WARN" else "WARNING",
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        context = _context.get()
        for key, value in context.items():
            entry[TRACE_FIELD if key == "trace" else key] = value
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Route the root logger to stdout as Cloud Logging JSON. Safe to call more than once."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, CloudLoggingFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(CloudLoggingFormatter())
        root.addHandler(handler)
    root.setLevel(level)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
