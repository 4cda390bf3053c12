"""Usage records written behind the caller: they land by the unit of work's flush, and a failed
write surfaces there (so the unit is retried), never silently."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.ai.llm.ledger import Ledger, UsageRecord
from shared.core import writebehind
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


class FailingFor(MemoryStore):
    """Fails every write of one call's usage record."""

    def __init__(self, call_id: str) -> None:
        super().__init__()
        self.call_id = call_id

    def set(self, path: str, data: dict[str, Any]) -> None:
        if path.endswith("/" + self.call_id):
            raise TransientError("Firestore is unavailable")
        super().set(path, data)


def _unit(ledger: Ledger, call_id: str, results: dict[str, str], go: threading.Barrier) -> None:
    # One request on its own thread, as a function instance serves concurrent requests.
    with writebehind.unit_of_work():
        ledger.record(_record(call_id))
        go.wait(5)  # both units' writes are in flight before either flushes
        try:
            ledger.flush()
            results[call_id] = "ok"
        except TransientError:
            results[call_id] = "raised"


def test_each_unit_of_work_waits_for_and_answers_for_its_own_writes_only() -> None:
    ledger = Ledger(FailingFor("bad"), write_behind=True)
    results: dict[str, str] = {}
    go = threading.Barrier(2)
    threads = [
        threading.Thread(target=_unit, args=(ledger, call_id, results, go))
        for call_id in ("bad", "good")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # The failed write fails the unit that made it, not the one that flushed next.
    assert results == {"bad": "raised", "good": "ok"}
    ledger.flush()  # nothing left over for a later unit (or the process)


def _failing_unit(ledger: Ledger) -> None:
    with writebehind.unit_of_work():
        ledger.record(_record("lost"))
        ledger.record(_record("kept"))
        raise RuntimeError("the handler failed before the flush")


def test_a_unit_that_fails_first_still_waits_for_its_writes_and_logs_a_lost_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FailingFor("lost")
    ledger = Ledger(store, write_behind=True)
    with pytest.raises(RuntimeError):
        _failing_unit(ledger)
    assert store.get("tenants/acme/llm_usage/kept") is not None  # landed before the unit ended
    assert "a write behind a failed unit of work was lost" in caplog.text
    ledger.flush()  # the next unit inherits nothing
