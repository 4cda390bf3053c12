from __future__ import annotations

import pytest

from shared.core.store import MemoryStore


def test_transactions_must_read_before_writing_like_firestore() -> None:
    store = MemoryStore()

    def bad(tx: object) -> None:
        tx.set("c/a", {"x": 1})  # type: ignore[attr-defined]
        tx.get("c/b")  # type: ignore[attr-defined]

    with pytest.raises(RuntimeError, match="read before"):
        store.run_transaction(bad)
    assert store.get("c/a") is None
