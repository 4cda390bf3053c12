"""The counting store (issue 19) counts as Firestore bills, by path pattern, per measured block."""

from __future__ import annotations

from pathlib import Path

from shared.core.store import counting
from shared.core.store.counting import CountingStore, pattern
from shared.core.store.memory import MemoryStore


def test_patterns_hide_ids_and_keep_collections() -> None:
    assert pattern("tenants/acme/workflow_runs/r-1") == "tenants/{}/workflow_runs/{}"
    assert pattern("tenants/acme/llm_budget/2026-12") == "tenants/{}/llm_budget/{}"


def test_operations_are_counted_by_kind_and_pattern_in_each_open_block() -> None:
    store = CountingStore(MemoryStore())
    with counting.measure() as outer:
        store.set("tenants/a/leads/l-1", {"x": 1})
        store.set_many([("tenants/a/leads/l-2", {"x": 2}), ("tenants/a/leads/l-3", {"x": 3})])
        with counting.measure() as inner:
            assert store.get("tenants/a/leads/l-1") == {"x": 1}
            store.get_many(["tenants/a/leads/l-2", "tenants/a/leads/l-9"])
            assert len(store.query("tenants/a/leads")) == 3

            def bump(tx: object) -> None:
                doc = tx.get("tenants/a/counters/c") or {"n": 0}  # type: ignore[attr-defined]
                tx.set("tenants/a/counters/c", {"n": doc["n"] + 1})  # type: ignore[attr-defined]

            store.run_transaction(bump)
    assert counting.summary(inner) == {
        "reads": 1 + 2 + 3 + 1,
        "queries": 1,
        "writes": 1,
        "attempts": 1,
        "commits": 1,
    }
    assert counting.summary(outer)["writes"] == 3 + 1
    assert inner[("reads", "tenants/{}/leads/{}")] == 6
    assert inner[("commits", "tenants/{}/counters/{}")] == 1
    assert store.totals == outer
    fields = counting.fields(inner)
    assert fields["store_ops_by_path"]["queries tenants/{}/leads/{}"] == 1


def test_nothing_is_counted_outside_a_block_but_the_totals() -> None:
    store = CountingStore(MemoryStore())
    store.set("tenants/a/x/1", {})
    with counting.measure() as block:
        pass
    assert not block and store.totals[("writes", "tenants/{}/x/{}")] == 1


def test_the_write_trace_finds_the_hottest_document_from_every_thread(tmp_path: Path) -> None:
    import threading

    store = CountingStore(MemoryStore(), measure=False, trace_dir=str(tmp_path))
    with counting.measure() as block:
        store.set("tenants/a/leads/l-1", {"x": 1})
    assert not block  # measure=False: the trace alone

    def hammer() -> None:  # a background writer (the usage write-behind) is traced too
        for i in range(30):
            store.increment("tenants/a/llm_usage_daily/d-0", {("calls",): 1})
            store.set(f"tenants/a/leads/x-{i}", {"i": i})

    worker = threading.Thread(target=hammer)
    worker.start()
    worker.join()
    store.get("tenants/a/leads/l-1")  # reads are not traced
    rows = counting.hottest(tmp_path, window_s=10.0, top=2)
    assert rows[0] == ("tenants/a/llm_usage_daily/d-0", 3.0, 30)
    assert rows[1][2] == 1 and len(rows) == 2


def test_the_hottest_rate_is_the_busiest_window_not_the_average(tmp_path: Path) -> None:
    # 5 writes in one second, then 1 write a minute later: 0.5/s over a 10 s window, not 6/61.
    lines = [f"{1000 + i * 0.1:.3f}\tdocs/d" for i in range(5)] + ["1060.000\tdocs/d"]
    (tmp_path / "writes-1.tsv").write_text("\n".join(lines) + "\n")
    assert counting.hottest(tmp_path, window_s=10.0) == [("docs/d", 0.5, 6)]
