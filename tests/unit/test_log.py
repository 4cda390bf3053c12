from __future__ import annotations

import json
import logging

from shared.log import CloudLoggingFormatter, log_context, trace_from_header


def _format(msg: str, **fields: object) -> dict[str, object]:
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, msg, None, None)
    if fields:
        record.fields = fields
    out: dict[str, object] = json.loads(CloudLoggingFormatter().format(record))
    return out


def test_records_are_cloud_logging_json_with_context() -> None:
    trace = trace_from_header("abc123/456;o=1", "proj")
    with log_context(tenant_id="acme", request_id="r1", trace=trace):
        entry = _format("hello", entity_id="lead-1")
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "hello"
    assert entry["tenant_id"] == "acme" and entry["request_id"] == "r1"
    assert entry["logging.googleapis.com/trace"] == "projects/proj/traces/abc123"
    assert entry["entity_id"] == "lead-1"


def test_context_does_not_leak_out_of_its_block() -> None:
    with log_context(tenant_id="acme"):
        pass
    assert "tenant_id" not in _format("x")
    assert trace_from_header(None, "p") is None
