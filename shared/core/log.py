"""Structured JSON logging in Cloud Logging's format, with request context carried implicitly.

Each record is one JSON line on stdout with ``severity``, ``message``, ``time`` and, inside a span
(``shared/core/tracing.py``), the special ``logging.googleapis.com/trace`` and ``spanId`` fields, so
Cloud Logging groups a request's lines under its trace, across every hop.
``tenant_id``, ``request_id`` and anything passed as ``extra={"fields": {...}}`` become JSON fields.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from typing_extensions import override

from shared.core.tracing import current_ids

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("log_context", default={})  # noqa: B039 - never mutated, always replaced

TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"
SAMPLED_FIELD = "logging.googleapis.com/trace_sampled"
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
    """The fields every log line of this context carries (request, tenant, run)."""
    return dict(_context.get())


class CloudLoggingFormatter(logging.Formatter):
    """Formats records as the JSON that Cloud Logging parses into structured entries."""

    @override
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname if record.levelname != "WARN" else "WARNING",
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        entry.update(_context.get())
        ids = current_ids()
        if ids is not None:
            # The current span (shared/core/tracing.py): Cloud Logging files the line under its trace.
            project = os.environ.get("GOOGLE_CLOUD_PROJECT", "local")
            entry[TRACE_FIELD] = f"projects/{project}/traces/{ids[0]}"
            entry[SPAN_FIELD] = ids[1]
            entry[SAMPLED_FIELD] = True
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
    """A logger that writes Cloud Logging JSON with the context's fields."""
    return logging.getLogger(name)


def log_cache_lookup(cache: str, hits: int, misses: int) -> None:
    """One line per batch of lookups in a cache (terraform/metrics.json: cache_hits,
    cache_misses): the hit rate is the sum of hits over the sum of both."""
    if hits or misses:
        fields = {"metric": "cache_lookup", "cache": cache, "hits": hits, "misses": misses}
        logging.getLogger("cache").info("%s cache lookups", cache, extra={"fields": fields})
