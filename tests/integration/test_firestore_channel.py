"""The Firestore client reads without starting a thread per read (issue 19): gRPC's
``SingleThreadedUnaryStream`` option is in effect on the channels ``build_client`` makes, so
document reads and queries (server-streaming calls) run on the calling thread."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from shared.core.config import load_settings
from shared.core.store.firestore import FirestoreStore, single_threaded_streams

if TYPE_CHECKING:
    import pytest

    from devstack.stack import Stack


def test_sequential_reads_and_queries_start_no_thread(
    clean_firestore: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert single_threaded_streams()  # the SDK still has the option lists this relies on
    store = FirestoreStore.from_settings(load_settings(os.environ))
    store.set_many([(f"reads/r{i}", {"n": i}) for i in range(5)])
    assert store.get("reads/r0") == {"n": 0}  # the channel is up
    started: list[str] = []
    original = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append(thread.name)
        original(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    for i in range(20):
        assert store.get(f"reads/r{i % 5}") == {"n": i % 5}
    assert len(store.query("reads", where=[("n", ">=", 2)])) == 3
    assert store.get_many(["reads/r1", "reads/none"]) == [{"n": 1}, None]
    assert store.run_transaction(lambda tx: tx.get("reads/r4")) == {"n": 4}
    assert started == []
