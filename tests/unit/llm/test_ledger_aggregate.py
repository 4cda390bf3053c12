"""Aggregation runs after a call was made and paid for: no caller's value may make it fail, or the
usage would be lost for good (issue 15, L2: a batch item's bad crm_object did)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.ai.llm.ledger import Ledger, UsageRecord
from shared.core.store import MemoryStore


def _record(crm_object: str) -> UsageRecord:
    return UsageRecord(
        call_id="c-1",
        tenant_id="acme",
        feature="outreach",
        crm_object=crm_object,
        provider="openai",
        model="gpt-4.1-mini",
        input_tokens=100,
        output_tokens=20,
        cached_input_tokens=0,
        cost_usd=0.001,
        latency_ms=12.0,
        cache_hit=False,
        outcome="ok",
        at=datetime(2026, 12, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "crm_object", ["lead:lead-1", "lead:__x__", "x" * 600, "le.ad:a/b", "Lead Type:1", ":"]
)
def test_any_crm_object_is_aggregated(crm_object: str) -> None:
    ledger = Ledger(MemoryStore())
    ledger.record(_record(crm_object))
    day = ledger.daily("acme", "2026-12-01")
    assert day["total"]["calls"] == 1 and day["total"]["input_tokens"] == 100
    assert sum(v["calls"] for v in day["by_object_type"].values()) == 1
