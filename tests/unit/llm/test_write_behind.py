"""Usage records written behind the caller: they land by the unit of work's flush, and a failed
write surfaces there (so the unit is retried), never silently."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.ai.llm.ledger import Ledger, UsageRecord
from shared.core.errors import TransientError
from shared.core.store import MemoryStore


def _record(call_id: str) -> UsageRecord:
    return UsageRecord(
        call_id=call_id,
        tenant_id="acme",
        feature="chat",
        provider="openai",
        model="gpt-4.1-mini",
        input_tokens=10,
        output_tokens=5,
        cached_input_tokens=0,
        cost_usd=0.001,
        latency_ms=3.0,
        cache_hit=False,
        outcome="ok",
        at=datetime.now(UTC),
    )


class SlowStore(MemoryStore):
    """Holds every write until released, so the test sees the caller go on without it."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.fail = False

    def set(self, path: str, data: dict[str, Any]) -> None:
        self.gate.wait(10)
        if self.fail:
            raise TransientError("Firestore is unavailable")
        super().set(path, data)


def test_records_land_by_the_flush_not_before_the_caller_goes_on() -> None:
    store = SlowStore()
    ledger = Ledger(store, write_behind=True)
    ledger.record(_record("c1"))  # returns at once: the write waits on the gate
    assert store.get("tenants/acme/llm_usage/c1") is None
    store.gate.set()
    ledger.flush()
    assert store.get("tenants/acme/llm_usage/c1") is not None
    assert ledger.daily("acme", datetime.now(UTC).strftime("%Y-%m-%d"))["total"]["calls"] == 1


def test_a_failed_write_behind_raises_at_the_flush() -> None:
    store = SlowStore()
    store.fail = True
    store.gate.set()
    ledger = Ledger(store, write_behind=True)
    ledger.record(_record("c2"))
    with pytest.raises(TransientError):
        ledger.flush()
    ledger.flush()  # reported once; nothing else pending
