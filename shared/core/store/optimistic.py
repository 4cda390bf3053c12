"""Optimistic transactions: read, decide, then write everything in one commit that holds only if
each document read is still at the version read (:meth:`DocumentStore.commit`).

A Firestore transaction is three calls (begin, read, commit), and its emulator locks what it
reads. One conditional commit does the same work for a document that one process writes in turn,
as a workflow run under its runner's lease: the process's own last commit tells it the document's
content and version (:class:`Versions`), so it reads nothing either. On the emulator, a
read-modify-write of one document with two more written cost 8.2 ms of the emulator's CPU and
4.1 ms of the client's as a transaction, 3.9 and 1.8 ms as a conditional commit (400 each).

When another writer got there first, the commit writes nothing; the documents are read again
and ``fn`` runs again, as a transaction's retry would. So does an ``fn`` that raised after
reading something only remembered: its decision is taken again on what is stored.
"""

from __future__ import annotations

import collections
import random
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from shared.core.errors import TransientError
from shared.core.store.base import copy_value

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from shared.core.store.base import Document, DocumentStore, Transaction

T = TypeVar("T")
ATTEMPTS = 5


class Committing(Protocol):
    """What an optimistic transaction needs of a store (a tenant's view of one will do)."""

    def get_versioned(self, path: str) -> tuple[Document | None, Any]:
        """As :meth:`DocumentStore.get_versioned`."""
        ...

    def commit(
        self, writes: Sequence[tuple[str, Document | None]], expect: Mapping[str, Any]
    ) -> list[Any] | None:
        """As :meth:`DocumentStore.commit`."""
        ...


class Versions:
    """Documents as this process last read or committed them, with their versions: the newest
    ``limit`` paths, thread-safe. A stale entry costs a retry, never a wrong write. Documents go
    in and come out as they are, not copied: neither side may change them."""

    def __init__(self, limit: int = 512) -> None:
        self._limit = limit
        self._docs: collections.OrderedDict[str, tuple[Document | None, Any]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, path: str) -> tuple[Document | None, Any] | None:
        """(document, version) as last seen, or None when this process does not know it."""
        with self._lock:
            found = self._docs.get(path)
            if found is None:
                return None
            self._docs.move_to_end(path)
        return found

    def put(self, path: str, doc: Document | None, version: Any) -> None:
        """Remember ``doc`` at ``version``."""
        with self._lock:
            self._docs[path] = (doc, version)
            self._docs.move_to_end(path)
            while len(self._docs) > self._limit:
                self._docs.popitem(last=False)

    def forget(self, path: str) -> None:
        """Read ``path`` from the store next time."""
        with self._lock:
            self._docs.pop(path, None)


_PER_STORE: weakref.WeakKeyDictionary[Any, Versions] = weakref.WeakKeyDictionary()
_PER_STORE_LOCK = threading.Lock()


def versions_for(store: DocumentStore) -> Versions:
    """This process's :class:`Versions` of ``store`` (one per store object: a test's stores are
    kept apart)."""
    with _PER_STORE_LOCK:
        found = _PER_STORE.get(store)
        if found is None:
            found = _PER_STORE[store] = Versions()
        return found


class _Attempt:
    """The :class:`~shared.core.store.base.Transaction` ``fn`` is given: reads come from
    ``known`` when it holds them, else from the store with their versions; writes wait for the
    commit."""

    def __init__(self, store: Committing, known: Versions) -> None:
        self._store = store
        self._known = known
        self.read: dict[str, tuple[Document | None, Any]] = {}
        self.fresh: set[str] = set()
        self.writes: dict[str, Document | None] = {}

    def get(self, path: str) -> Document | None:
        if self.writes:
            raise RuntimeError("transactions must read before they write (as Firestore requires)")
        if path not in self.read:
            found = self._known.get(path)
            if found is None:
                found = self._store.get_versioned(path)
                self.fresh.add(path)
            self.read[path] = found
        doc = self.read[path][0]
        return None if doc is None else copy_value(doc)  # what is read is remembered: fn's copy

    def set(self, path: str, data: Document) -> None:
        self.writes[path] = copy_value(data)  # what is written is remembered: not fn's to change

    def delete(self, path: str) -> None:
        self.writes[path] = None


def run_optimistic(
    store: Committing,
    fn: Callable[[Transaction], T],
    known: Versions,
    *,
    attempts: int = ATTEMPTS,
) -> T:
    """Run ``fn`` as :meth:`DocumentStore.run_transaction` would, with one conditional commit.

    Every document ``fn`` reads is part of the commit (written back as read when ``fn`` did not
    write it), so the commit holds only if none changed since. A single document read fresh and
    nothing written needs no commit.

    Raises:
        TransientError: other writers changed what ``fn`` read on every attempt.
    """
    for attempt in range(attempts):
        if attempt > 1:
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter, not security
        tx = _Attempt(store, known)
        try:
            result = fn(tx)
        except Exception:  # re-raised unless it was decided on remembered documents (then retried)
            stale = [path for path in tx.read if path not in tx.fresh]
            if not stale:
                raise
            for path in stale:  # decided on what this process remembered: decide on the store
                known.forget(path)
            continue
        if not tx.writes and len(tx.read) <= 1 and set(tx.read) == tx.fresh:
            return result
        items = list(tx.writes.items())
        items += [(path, doc) for path, (doc, _) in tx.read.items() if path not in tx.writes]
        versions = store.commit(items, {path: version for path, (_, version) in tx.read.items()})
        if versions is None:
            for path in tx.read:
                known.forget(path)
            continue
        for (path, data), version in zip(items, versions, strict=True):
            if path in tx.read:  # only what was read: blind writes need no version
                known.put(path, data, version)
        return result
    raise TransientError(f"documents changed under {attempts} optimistic commits")
