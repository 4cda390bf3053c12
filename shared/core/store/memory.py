"""In-memory reference implementation of :class:`~shared.core.store.base.DocumentStore`."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import override

from shared.core.store.base import DocumentStore, Vector, check_commit, copy_value, cosine

if TYPE_CHECKING:
    from shared.core.store.base import Document, Filter

T = TypeVar("T")
_MISSING = object()


def _matches(data: Document, flt: Filter) -> bool:
    field, op, expected = flt
    actual = data.get(field, _MISSING)
    if actual is _MISSING:
        return False
    if op == "==":
        return bool(actual == expected)
    if op == "!=":
        return bool(actual != expected)
    if op == "in":
        return actual in expected
    if op == "array_contains":
        return isinstance(actual, list) and expected in actual
    if op == "has_key":
        return isinstance(actual, dict) and actual.get(expected) is True
    try:
        if op == "<":
            return bool(actual < expected)
        if op == "<=":
            return bool(actual <= expected)
        if op == ">":
            return bool(actual > expected)
        if op == ">=":
            return bool(actual >= expected)
    except TypeError:
        return False
    raise ValueError(f"unsupported operator {op!r}")


class _MemoryTransaction:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._writes: dict[str, Document | None] = {}

    def get(self, path: str) -> Document | None:
        if self._writes:
            raise RuntimeError("transactions must read before they write (as Firestore requires)")
        return self._store.get(path)

    def set(self, path: str, data: Document) -> None:
        self._writes[path] = copy_value(data)

    def delete(self, path: str) -> None:
        self._writes[path] = None


class MemoryStore(DocumentStore):
    """Documents in a dict; a transaction holds one lock, so transactions are serialisable."""

    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}
        # Each document's version: a number no change ever gives twice (as Firestore's update
        # time), so a document changed and changed back is still seen to have changed.
        self._versions: dict[str, int] = {}
        self._clock = itertools.count(1)
        self._lock = threading.RLock()

    def _put(self, path: str, data: Document) -> None:
        """Store ``data`` (the caller's copy) at ``path``, with a new version unless it is what
        was there (Firestore keeps a document's update time then). Under the lock."""
        if path not in self._docs or self._docs[path] != data:
            self._versions[path] = next(self._clock)
        self._docs[path] = data

    def _drop(self, path: str) -> None:
        """Delete ``path`` (nothing when absent). Under the lock."""
        self._docs.pop(path, None)
        self._versions.pop(path, None)

    @override
    def get(self, path: str) -> Document | None:
        with self._lock:
            doc = self._docs.get(path)
            return copy_value(doc) if doc is not None else None

    @override
    def get_many(self, paths: Sequence[str]) -> list[Document | None]:
        return [self.get(p) for p in paths]

    @override
    def set(self, path: str, data: Document) -> None:
        with self._lock:
            self._put(path, copy_value(data))

    @override
    def set_many(self, items: Sequence[tuple[str, Document]]) -> None:
        for path, data in items:
            self.set(path, data)

    @override
    def create(self, path: str, data: Document) -> bool:
        with self._lock:
            if path in self._docs:
                return False
            self._put(path, copy_value(data))
            return True

    @override
    def create_many(self, items: Sequence[tuple[str, Document]]) -> list[bool]:
        return [self.create(path, data) for path, data in items]

    @override
    def delete(self, path: str) -> None:
        with self._lock:
            self._drop(path)

    @override
    def get_versioned(self, path: str) -> tuple[Document | None, Any]:
        with self._lock:
            doc = self._docs.get(path)
            return (None, None) if doc is None else (copy_value(doc), self._versions[path])

    @override
    def set_if(self, path: str, data: Document, version: Any) -> bool:
        with self._lock:
            if self._versions.get(path) != version:
                return False
            self._put(path, {**self._docs.get(path, {}), **copy_value(data)})
            return True

    @override
    def commit(
        self, writes: Sequence[tuple[str, Document | None]], expect: Mapping[str, Any]
    ) -> list[Any] | None:
        check_commit(writes, expect)
        with self._lock:
            if any(self._versions.get(path) != version for path, version in expect.items()):
                return None
            for path, data in writes:
                if data is None:
                    self._drop(path)
                else:
                    self._put(path, copy_value(data))
            return [self._versions.get(path) for path, _ in writes]

    @override
    def increment(self, path: str, deltas: Mapping[tuple[str, ...], float]) -> None:
        with self._lock:
            doc = copy_value(self._docs.get(path, {}))
            for keys, delta in deltas.items():
                node = doc
                for key in keys[:-1]:
                    node = node.setdefault(key, {})
                node[keys[-1]] = node.get(keys[-1], 0) + delta
            self._put(path, doc)

    @override
    def run_transaction(self, fn: Callable[[Any], T]) -> T:
        with self._lock:
            tx = _MemoryTransaction(self)
            result = fn(tx)
            for path, data in tx._writes.items():
                if data is None:
                    self._drop(path)
                else:
                    self._put(path, data)
            return result

    @override
    def query(
        self,
        collection: str,
        *,
        where: Sequence[Filter] = (),
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]:
        prefix = collection.rstrip("/") + "/"
        with self._lock:
            rows = [
                (path[len(prefix) :], copy_value(doc))
                for path, doc in self._docs.items()
                if path.startswith(prefix) and "/" not in path[len(prefix) :]
            ]
        rows = [r for r in rows if all(_matches(r[1], f) for f in where)]
        if order_by is not None:
            rows = [r for r in rows if order_by in r[1]]
            rows.sort(key=lambda r: (r[1][order_by], r[0]), reverse=descending)
        else:
            rows.sort(key=lambda r: r[0])
        return rows[:limit] if limit is not None else rows

    @override
    def nearest(
        self,
        collection: str,
        *,
        field: str,
        vector: list[float],
        limit: int,
        where: Sequence[Filter] = (),
    ) -> list[tuple[str, Document, float]]:
        scored = []
        for doc_id, doc in self.query(collection, where=where):
            candidate = doc.get(field)
            if isinstance(candidate, Vector) and len(candidate) == len(vector):
                scored.append((doc_id, doc, 1.0 - cosine(candidate, vector)))
        scored.sort(key=lambda row: (row[2], row[0]))
        return scored[:limit]

    @override
    def delete_collection(self, collection: str) -> int:
        ids = [doc_id for doc_id, _ in self.query(collection)]
        for doc_id in ids:
            self.delete(f"{collection}/{doc_id}")
        return len(ids)
