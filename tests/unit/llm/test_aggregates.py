"""Usage aggregates are summed per instance and written at most once an interval (issue 19: the
10 shared shards were the hottest documents of a workflow burst)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.ai.llm.aggregates import UsageAggregates
from shared.ai.llm.ledger import Ledger, UsageRecord
from shared.core.errors import TransientError
from shared.core.store import MemoryStore

DAY = "2026-12-01"


def _record(i: int, tenant: str = "acme") -> UsageRecord:
    return UsageRecord(
        call_id=f"c-{i}",
        tenant_id=tenant,
        feature="chat",
        provider="openai",
        model="gpt-4.1-mini",
        input_tokens=10,
        output_tokens=2,
        cached_input_tokens=0,
        cost_usd=0.5,
        latency_ms=1.0,
        cache_hit=False,
        outcome="ok",
        at=datetime(2026, 12, 1, 9, tzinfo=UTC),
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class WatchedStore(MemoryStore):
    """Records when (on the test's clock) each document was incremented; can fail on demand."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.writes: list[tuple[float, str]] = []
        self.failures = 0

    def increment(self, path: str, deltas: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise TransientError("Firestore is unavailable")
        self.writes.append((self.clock(), path))
        super().increment(path, deltas)


def _ledger(store: MemoryStore, clock: Clock) -> Ledger:
    ledger = Ledger(store)
    ledger.aggregates = UsageAggregates(store, interval_s=1.0, clock=clock)
    return ledger


def test_a_burst_is_one_write_now_and_one_when_the_interval_ends() -> None:
    clock = Clock()
    store = WatchedStore(clock)
    ledger = _ledger(store, clock)
    for i in range(100):
        ledger.record(_record(i))
    shard_writes = [w for w in store.writes if "/llm_usage_daily/" in w[1]]
    assert len(shard_writes) == 1  # the first call; 99 wait in memory
    assert ledger.daily("acme", DAY)["total"]["calls"] == 100  # this process sees its own sums
    assert ledger.daily("acme", DAY)["by_feature"]["chat"]["cost_usd"] == pytest.approx(50.0)
    clock.now += 1.0
    ledger.aggregates.write_all()
    shard_writes = [w for w in store.writes if "/llm_usage_daily/" in w[1]]
    assert len(shard_writes) == 2
    assert Ledger(store).daily("acme", DAY)["total"]["calls"] == 100  # another process, too


def test_the_background_writer_keeps_each_shard_under_one_write_an_interval() -> None:
    clock = Clock()
    store = WatchedStore(clock)
    aggregates = UsageAggregates(store, interval_s=0.05)  # real time: the writer thread runs
    ledger = Ledger(store)
    ledger.aggregates = aggregates

    def calls(start: int) -> None:
        for i in range(start, start + 200):
            ledger.record(_record(i))
            clock.now = time.monotonic()

    threads = [threading.Thread(target=calls, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 10
    while aggregates.pending("acme", DAY) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not aggregates.pending("acme", DAY)  # the writer emptied it without write_all
    assert Ledger(store).daily("acme", DAY)["total"]["calls"] == 800
    shard_writes = [w for w in store.writes if "/llm_usage_daily/" in w[1]]
    assert len(shard_writes) < 800 / 4  # summed, not one write per call


def test_a_failed_write_keeps_its_sums_for_the_next_try() -> None:
    clock = Clock()
    store = WatchedStore(clock)
    ledger = _ledger(store, clock)
    store.failures = 1
    with pytest.raises(TransientError):  # the unit of work that made the call is retried
        ledger.record(_record(1))
    ledger.record(_record(2))
    clock.now += 1.0
    ledger.aggregates.write_all()
    assert Ledger(store).daily("acme", DAY)["total"]["calls"] == 2  # nothing lost


def test_each_instance_writes_its_own_shard_and_the_day_sums_them() -> None:
    clock = Clock()
    store = WatchedStore(clock)
    one, two = _ledger(store, clock), _ledger(store, clock)
    one.record(_record(1))
    two.record(_record(2))
    two.record(_record(3, tenant="globex"))
    shards = {path for _, path in store.writes if "/llm_usage_daily/" in path}
    assert len(shards) == 3  # two instances for acme, one for globex: one writer per document
    assert Ledger(store).daily("acme", DAY)["total"]["calls"] == 2
    assert Ledger(store).daily("globex", DAY)["total"]["calls"] == 1
