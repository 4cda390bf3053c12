"""One suite, every backend: the in-memory fake and Firestore on its emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from shared.core.store import MemoryStore

if TYPE_CHECKING:
    from shared.core.store import DocumentStore


@pytest.fixture(params=["memory", "firestore"])
def backend(request: pytest.FixtureRequest) -> DocumentStore:
    if request.param == "memory":
        return MemoryStore()
    request.getfixturevalue("clean_firestore")
    import os

    from shared.core.config import load_settings
    from shared.core.store.firestore import FirestoreStore

    return FirestoreStore.from_settings(load_settings(os.environ))
