from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from shared.core.errors import TransientError
from shared.core.store.counting import CountingStore
from shared.core.store.optimistic import Versions, run_optimistic

if TYPE_CHECKING:
    from shared.core.store import DocumentStore
    from shared.core.store.base import Transaction


def test_set_get_delete(backend: DocumentStore) -> None:
    assert backend.get("things/a") is None
    now = datetime(2026, 1, 1, tzinfo=UTC)
    backend.set("things/a", {"n": 1, "nested": {"x": [1, 2]}, "at": now})
    doc = backend.get("things/a")
    assert doc is not None and doc["n"] == 1 and doc["nested"] == {"x": [1, 2]} and doc["at"] == now
    backend.delete("things/a")
    assert backend.get("things/a") is None


def test_create_only_once(backend: DocumentStore) -> None:
    assert backend.create("things/a", {"n": 1})
    assert not backend.create("things/a", {"n": 2})
    assert backend.get("things/a") == {"n": 1}


def test_create_many_creates_the_new_and_leaves_the_existing(backend: DocumentStore) -> None:
    backend.set("cm/b", {"v": "first"})
    assert backend.create_many([("cm/a", {"v": 1}), ("cm/b", {"v": 2}), ("cm/c", {"v": 3})]) == [
        True,
        False,
        True,
    ]
    assert [backend.get(f"cm/{k}") for k in "abc"] == [{"v": 1}, {"v": "first"}, {"v": 3}]
    assert backend.create_many([]) == []
    assert backend.create_many([("cm/d", {"v": 4}), ("cm/e", {"v": 5})]) == [True, True]


def test_get_many_keeps_order(backend: DocumentStore) -> None:
    backend.set("things/b", {"n": 2})
    assert backend.get_many(["things/a", "things/b"]) == [None, {"n": 2}]
    assert backend.get_many([]) == []


def test_query_filters_orders_and_limits(backend: DocumentStore) -> None:
    for i, colour in enumerate(["red", "blue", "red", "red"]):
        backend.set(f"t/x/items/i{i}", {"colour": colour, "rank": 10 - i})
    backend.set(
        "t/x/items/i9/sub/deep", {"colour": "red", "rank": 0}
    )  # subcollections are not listed
    backend.set("t/y/items/other", {"colour": "red", "rank": 99})  # another parent is not listed
    rows = backend.query("t/x/items", where=[("colour", "==", "red")], order_by="rank", limit=2)
    assert [doc_id for doc_id, _ in rows] == ["i3", "i2"]
    rows = backend.query("t/x/items", order_by="rank", descending=True)
    assert [doc_id for doc_id, _ in rows] == ["i0", "i1", "i2", "i3"]
    # Without order_by the order is unspecified (Firestore sorts by an inequality's field).
    assert {d for d, _ in backend.query("t/x/items", where=[("rank", ">=", 9)])} == {"i0", "i1"}
    assert [d for d, _ in backend.query("t/x/items", where=[("colour", "in", ["blue"])])] == ["i1"]
    assert backend.delete_collection("t/x/items") == 4
    assert backend.query("t/x/items") == []


def test_has_key_matches_map_entries_set_to_true(backend: DocumentStore) -> None:
    backend.set("t/x/chunks/a", {"kw": {"refund": True, "2024": True, "o'brien": True}, "c": "1"})
    backend.set("t/x/chunks/b", {"kw": {"refund": True}, "c": "2"})
    backend.set("t/x/chunks/c", {"kw": {"refund": False}, "c": "1"})
    backend.set("t/x/chunks/d", {"kw": ["refund"], "c": "1"})  # a list is not a map

    def ids(*where: Any) -> set[str]:
        return {d for d, _ in backend.query("t/x/chunks", where=list(where))}

    assert ids(("kw", "has_key", "refund")) == {"a", "b"}
    # Keys a plain field path cannot spell (a leading digit, a quote) are quoted for Firestore.
    assert ids(("kw", "has_key", "2024")) == {"a"}
    assert ids(("kw", "has_key", "o'brien")) == {"a"}
    assert ids(("kw", "has_key", "refund"), ("c", "==", "1")) == {"a"}
    assert ids(("kw", "has_key", "missing")) == set()


def test_transaction_is_atomic(backend: DocumentStore) -> None:
    backend.set("acct/a", {"balance": 10})

    def transfer_then_fail(tx: Any) -> None:
        a = tx.get("acct/a")
        tx.set("acct/a", {"balance": a["balance"] - 5})
        tx.set("acct/b", {"balance": 5})
        raise ValueError("abort")

    with pytest.raises(ValueError, match="abort"):
        backend.run_transaction(transfer_then_fail)
    assert backend.get("acct/a") == {"balance": 10}
    assert backend.get("acct/b") is None


def test_concurrent_transactions_do_not_lose_updates(backend: DocumentStore) -> None:
    backend.set("counter/c", {"n": 0})

    def bump(tx: Any) -> None:
        doc = tx.get("counter/c")
        tx.set("counter/c", {"n": doc["n"] + 1})

    outcomes: list[str] = []

    def worker() -> None:
        try:
            backend.run_transaction(bump)
            outcomes.append("ok")
        except TransientError:
            outcomes.append("contention")  # reported to the caller, who retries: nothing is lost

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 8 and outcomes.count("ok") >= 1
    assert backend.get("counter/c") == {"n": outcomes.count("ok")}


def test_increment_creates_and_adds_nested_fields(backend: DocumentStore) -> None:
    backend.increment("agg/d1", {("calls",): 1, ("by_model", "gpt-4.1-mini", "cost"): 0.25})
    backend.increment("agg/d1", {("calls",): 2, ("by_model", "gpt-4.1-mini", "cost"): 0.5})
    doc = backend.get("agg/d1")
    assert doc == {"calls": 3, "by_model": {"gpt-4.1-mini": {"cost": 0.75}}}


def test_concurrent_increments_are_not_lost(backend: DocumentStore) -> None:
    threads = [
        threading.Thread(target=backend.increment, args=("agg/hot", {("n",): 1})) for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert backend.get("agg/hot") == {"n": 20}


def test_nearest_finds_the_closest_vectors(backend: DocumentStore) -> None:
    from shared.core.store.base import Vector

    backend.set("t/x/chunks/a", {"kind": "faq", "embedding": Vector([1.0, 0.0, 0.0])})
    backend.set("t/x/chunks/b", {"kind": "faq", "embedding": Vector([0.7, 0.7, 0.0])})
    backend.set("t/x/chunks/c", {"kind": "note", "embedding": Vector([0.9, 0.1, 0.0])})
    backend.set("t/x/chunks/d", {"kind": "faq", "embedding": Vector([0.0, 0.0, 1.0])})
    rows = backend.nearest(
        "t/x/chunks",
        field="embedding",
        vector=[1.0, 0.05, 0.0],
        limit=2,
        where=[("kind", "==", "faq")],
    )
    assert [doc_id for doc_id, _, _ in rows] == ["a", "b"]
    assert rows[0][2] < rows[1][2] and rows[0][2] == pytest.approx(0.00125, abs=1e-3)
    assert isinstance(rows[0][1]["embedding"], Vector)
    stored = backend.get("t/x/chunks/a")
    assert stored is not None and stored["embedding"] == [1.0, 0.0, 0.0]


def test_set_many_writes_every_document(backend: DocumentStore) -> None:
    backend.set_many([(f"bulk/d{i}", {"i": i}) for i in range(450)])
    assert len(backend.query("bulk")) == 450
    assert backend.get("bulk/d449") == {"i": 449}


def test_set_if_writes_only_what_was_not_changed_since_it_was_read(backend: DocumentStore) -> None:
    doc, version = backend.get_versioned("things/cas")
    assert doc is None and version is None
    assert backend.set_if("things/cas", {"n": 1, "keep": True}, version)
    assert not backend.set_if("things/cas", {"n": 9}, None)  # it exists now
    doc, version = backend.get_versioned("things/cas")
    assert doc == {"n": 1, "keep": True}
    backend.set("things/cas", {"n": 2, "keep": True})  # someone else wrote in between
    assert not backend.set_if("things/cas", {"n": 3}, version)
    assert backend.get("things/cas") == {"n": 2, "keep": True}
    doc, version = backend.get_versioned("things/cas")
    assert backend.set_if("things/cas", {"n": 3, "map": {"a": 1}}, version)
    assert backend.get("things/cas") == {"n": 3, "keep": True, "map": {"a": 1}}  # others kept
    backend.delete("things/cas")
    assert not backend.set_if("things/cas", {"n": 4}, version)


def test_concurrent_set_if_loses_no_update(backend: DocumentStore) -> None:
    backend.set("things/casn", {"n": 0})

    def add() -> None:
        for _ in range(5):
            while True:
                doc, version = backend.get_versioned("things/casn")
                assert doc is not None
                if backend.set_if("things/casn", {"n": doc["n"] + 1}, version):
                    break

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert backend.get("things/casn") == {"n": 20}


def test_commit_writes_all_or_nothing_on_the_versions_it_expects(backend: DocumentStore) -> None:
    backend.set("things/run", {"n": 1, "lease": "a", "drop": True})
    _, version = backend.get_versioned("things/run")
    versions = backend.commit(
        [("things/run", {"n": 2, "lease": "a"}), ("things/ck1", {"c": 1}), ("things/gone", None)],
        {"things/run": version},
    )
    assert versions is not None and versions[2] is None
    assert backend.get("things/run") == {"n": 2, "lease": "a"}  # replaced: "drop" is gone
    assert backend.get("things/ck1") == {"c": 1}
    assert backend.get_versioned("things/run")[1] == versions[0]  # the version it returned
    # A stale version writes nothing at all, not even the documents it did not expect.
    assert (
        backend.commit(
            [("things/run", {"n": 9}), ("things/ck2", {"c": 2})], {"things/run": version}
        )
        is None
    )
    assert backend.get("things/run") == {"n": 2, "lease": "a"} and backend.get("things/ck2") is None
    # Written back as it was, a document keeps its version (Firestore's rule), still checked.
    again = backend.commit([("things/run", {"n": 2, "lease": "a"})], {"things/run": versions[0]})
    assert again == versions[:1]
    assert backend.commit([("things/run", {"n": 2, "lease": "a"})], {"things/run": version}) is None
    assert backend.commit([("things/run", {"n": 3})], {"things/run": versions[0]}) is not None
    assert backend.commit([("things/run", {"n": 4})], {"things/run": versions[0]}) is None
    # None expects the document absent: a create, or a delete of nothing.
    assert backend.commit([("things/new", {"x": 1})], {"things/new": None}) is not None
    assert backend.commit([("things/new", {"x": 2})], {"things/new": None}) is None
    assert backend.commit([("things/none", None)], {"things/none": None}) == [None]
    with pytest.raises(ValueError, match="expected but not written"):
        backend.commit([("things/a", {})], {"things/b": None})


def test_optimistic_transactions_lose_no_update_and_read_what_they_wrote(
    backend: DocumentStore,
) -> None:
    backend.set("things/opt", {"n": 0})
    shared = Versions()

    def add(tx: Transaction) -> None:
        doc = tx.get("things/opt") or {}
        tx.set("things/opt", {"n": doc["n"] + 1})

    def adder(known: Versions) -> None:
        for _ in range(5):
            run_optimistic(backend, add, known, attempts=50)

    # Two writers remembering their own versions and two sharing one: none loses an update.
    threads = [
        threading.Thread(target=adder, args=(known,))
        for known in (Versions(), Versions(), shared, shared)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert backend.get("things/opt") == {"n": 20}
    # A writer that knows the document's version reads nothing from the store.
    alone = Versions()
    run_optimistic(backend, add, alone)
    counting = CountingStore(backend)
    run_optimistic(counting, add, alone)
    assert counting.totals[("reads", "things/{}")] == 0 and backend.get("things/opt") == {"n": 22}
    # A decision taken on a remembered document that someone changed since is taken again.
    run_optimistic(backend, lambda tx: tx.set("things/opt", {"n": 4, "closed": True}), alone)
    backend.set("things/opt", {"n": 5})  # reopened by another writer

    def refuse_closed(tx: Transaction) -> int:
        doc = tx.get("things/opt") or {}
        if doc.get("closed"):
            raise LookupError("closed")
        tx.set("things/opt", {"n": doc["n"] + 1})
        return int(doc["n"])

    assert run_optimistic(counting, refuse_closed, alone) == 5
    assert counting.totals[("reads", "things/{}")] == 1 and backend.get("things/opt") == {"n": 6}
