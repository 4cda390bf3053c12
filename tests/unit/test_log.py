from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from shared.core import tracing
from shared.core.log import CloudLoggingFormatter, log_context

if TYPE_CHECKING:
    import pytest

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _format(msg: str, **fields: object) -> dict[str, object]:
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, msg, None, None)
    if fields:
        record.fields = fields
    out: dict[str, object] = json.loads(CloudLoggingFormatter().format(record))
    return out


def test_records_are_cloud_logging_json_with_context_and_the_current_span(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "proj")
    incoming = {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
    with (
        tracing.span("test", incoming=incoming),
        log_context(tenant_id="acme", request_id="r1"),
    ):
        entry = _format("hello", entity_id="lead-1")
        span_id = tracing.current_ids()[1]  # type: ignore[index]
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "hello"
    assert entry["tenant_id"] == "acme" and entry["request_id"] == "r1"
    assert entry["logging.googleapis.com/trace"] == f"projects/proj/traces/{TRACE}"
    assert entry["logging.googleapis.com/spanId"] == span_id != "00f067aa0ba902b7"
    assert entry["entity_id"] == "lead-1"


def test_context_and_span_do_not_leak_out_of_their_block() -> None:
    with log_context(tenant_id="acme"), tracing.span("x"):
        pass
    entry = _format("x")
    assert "tenant_id" not in entry and "logging.googleapis.com/trace" not in entry
