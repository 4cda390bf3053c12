"""A document store that counts its operations (issue 19: count, then cut).

``CountingStore(inner)`` passes every call through and counts it by kind and path pattern
(ids replaced by ``{}``: ``tenants/{}/workflow_runs/{}``), as Firestore bills them: a document
read per document returned (``get``, ``get_many``, each query result, each read in a
transaction), a write per document written, a query per query, a commit per transaction that
returned, and an attempt per time its function ran (retries are attempts minus commits).

Counts go to the process's totals and to every :func:`measure` block open in the current context
(a request, a task, a workflow step), so a unit can say what one piece of work cost. It is on
only when ``STORE_OP_COUNTS`` is set (``shared.edge.services``): benchmarks, never production.

``STORE_WRITE_TRACE=<dir>`` also appends one line per document written (time, path) to
``<dir>/writes-<pid>.tsv``, for every write of the process, background threads included: the
workflow burst benchmark finds the hottest documents from them (:func:`hottest`).
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import override

from shared.core.store.base import DocumentStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from shared.core.store.base import Document, Transaction

T = TypeVar("T")
Counts = collections.Counter[tuple[str, str]]  # (kind, pattern) -> n
_open: contextvars.ContextVar[tuple[Counts, ...]] = contextvars.ContextVar(
    "store_op_measures", default=()
)


def pattern(path: str) -> str:
    """``tenants/acme/workflow_runs/r-1`` -> ``tenants/{}/workflow_runs/{}``: every document id
    (the odd segments) becomes ``{}``; collection names stay."""
    segments = path.strip("/").split("/")
    return "/".join("{}" if i % 2 else s for i, s in enumerate(segments))


@contextlib.contextmanager
def measure() -> Iterator[Counts]:
    """Count the operations made in this context (nested blocks count too) into the yielded
    counter."""
    counts: Counts = collections.Counter()
    previous = _open.get()
    token = _open.set((*previous, counts))
    try:
        yield counts
    finally:
        try:
            _open.reset(token)
        except ValueError:  # a generator closed from another context (a dropped stream)
            _open.set(previous)


def summary(counts: Counts) -> dict[str, int]:
    """Totals by kind: ``{"reads": 3, "writes": 2, "queries": 1, "commits": 1, "attempts": 1}``."""
    out: collections.Counter[str] = collections.Counter()
    for (kind, _), n in counts.items():
        out[kind] += n
    return dict(out)


def fields(counts: Counts) -> dict[str, Any]:
    """Log fields for a unit of work: totals by kind, and counts by kind and path pattern."""
    return {
        "store_ops": summary(counts),
        "store_ops_by_path": {f"{kind} {path}": n for (kind, path), n in sorted(counts.items())},
    }


def log_work(what: str, counts: Counts, **extra: Any) -> None:
    """One line for a unit of work's operations (benchmarks read them from the logs)."""
    if counts:
        from shared.core.log import get_logger

        get_logger("store.ops").info(
            "store operations of %s",
            what,
            extra={"fields": {"unit_of_work": what, **extra, **fields(counts)}},
        )


class CountingStore(DocumentStore):
    """Wraps a :class:`~shared.core.store.base.DocumentStore`; ``totals`` holds the process's counts.
    ``measure=False`` leaves :func:`measure` blocks empty (a write trace alone, without the
    per-unit log lines); ``trace_dir`` turns the write trace on."""

    def __init__(
        self, inner: DocumentStore, *, measure: bool = True, trace_dir: str | None = None
    ) -> None:
        self.inner = inner
        self.totals: Counts = collections.Counter()
        self._lock = threading.Lock()
        self._measure = measure
        self._trace_dir = Path(trace_dir) if trace_dir else None

    def count(self, kind: str, path: str, n: int = 1) -> None:
        """Count ``n`` operations of ``kind`` on ``path``'s pattern."""
        key = (kind, pattern(path))
        with self._lock:
            self.totals[key] += n
            if self._trace_dir is not None and kind == "writes" and not path.endswith("/{}"):
                self._trace_line(path)
        if self._measure:
            for counts in _open.get():
                counts[key] += n

    def _trace_line(self, path: str) -> None:
        # Opened per line (benchmarks only): nothing to close, and a forked worker writes its own.
        assert self._trace_dir is not None
        self._trace_dir.mkdir(parents=True, exist_ok=True)
        with (self._trace_dir / f"writes-{os.getpid()}.tsv").open("a", encoding="utf-8") as out:
            out.write(f"{time.time():.3f}\t{path}\n")

    @override
    def get(self, path: str) -> Document | None:
        self.count("reads", path)
        return self.inner.get(path)

    @override
    def get_many(self, paths: Sequence[str]) -> list[Document | None]:
        for path in paths:
            self.count("reads", path)
        return self.inner.get_many(paths)

    @override
    def set(self, path: str, data: Document) -> None:
        self.count("writes", path)
        self.inner.set(path, data)

    @override
    def set_many(self, items: Sequence[tuple[str, Document]]) -> None:
        for path, _ in items:
            self.count("writes", path)
        self.inner.set_many(items)

    @override
    def create(self, path: str, data: Document) -> bool:
        self.count("writes", path)
        return self.inner.create(path, data)

    @override
    def create_many(self, items: Sequence[tuple[str, Document]]) -> list[bool]:
        for path, _ in items:
            self.count("writes", path)
        return self.inner.create_many(items)

    @override
    def delete(self, path: str) -> None:
        self.count("writes", path)
        self.inner.delete(path)

    @override
    def get_versioned(self, path: str) -> tuple[Document | None, Any]:
        self.count("reads", path)
        return self.inner.get_versioned(path)

    @override
    def set_if(self, path: str, data: Document, version: Any) -> bool:
        self.count("writes", path)
        return self.inner.set_if(path, data, version)

    @override
    def commit(
        self, writes: Sequence[tuple[str, Document | None]], expect: Mapping[str, Any]
    ) -> list[Any] | None:
        for path, _ in writes:
            self.count("writes", path)
        first = writes[0][0] if writes else "commit"
        self.count("attempts", first)
        versions = self.inner.commit(writes, expect)
        if versions is not None:
            self.count("commits", first)
        return versions

    @override
    def increment(self, path: str, deltas: Mapping[tuple[str, ...], float]) -> None:
        self.count("writes", path)
        self.inner.increment(path, deltas)

    @override
    def run_transaction(self, fn: Callable[[Transaction], T]) -> T:
        touched: list[str] = []

        def counted(tx: Transaction) -> T:
            touched.clear()
            result = fn(_CountingTransaction(tx, self, touched))
            return result

        def attempt(tx: Transaction) -> T:
            result = counted(tx)
            self.count("attempts", touched[0] if touched else "transaction")
            return result

        result = self.inner.run_transaction(attempt)
        self.count("commits", touched[0] if touched else "transaction")
        return result

    @override
    def query(self, collection: str, *args: Any, **kwargs: Any) -> list[tuple[str, Document]]:
        self.count("queries", collection + "/{}")
        rows = self.inner.query(collection, *args, **kwargs)
        if rows:
            self.count("reads", collection + "/{}", len(rows))
        return rows

    @override
    def nearest(self, collection: str, *args: Any, **kwargs: Any) -> Any:
        self.count("queries", collection + "/{}")
        rows = self.inner.nearest(collection, *args, **kwargs)
        if rows:
            self.count("reads", collection + "/{}", len(rows))
        return rows

    @override
    def delete_collection(self, collection: str) -> int:
        n = self.inner.delete_collection(collection)
        self.count("writes", collection + "/{}", n)
        return n

    def __getattr__(self, name: str) -> Any:
        # Anything else the wrapped store offers (its client, ...), uncounted.
        return getattr(self.inner, name)


def hottest(
    trace_dir: Path, *, window_s: float = 10.0, top: int = 10
) -> list[tuple[str, float, int]]:
    """From a write trace: (path, highest writes a second over any ``window_s`` window, total
    writes) for the ``top`` documents by that rate. Firestore's guidance is about 1 sustained
    write a second per document."""
    times: dict[str, list[float]] = collections.defaultdict(list)
    for trace in trace_dir.glob("writes-*.tsv"):
        for line in trace.read_text(encoding="utf-8").splitlines():
            when, _, path = line.partition("\t")
            times[path].append(float(when))
    rated: list[tuple[str, float, int]] = []
    for path, stamps in times.items():
        stamps.sort()
        most, start = 0, 0
        for end, stamp in enumerate(stamps):
            while stamp - stamps[start] >= window_s:
                start += 1
            most = max(most, end - start + 1)
        rated.append((path, most / window_s, len(stamps)))
    rated.sort(key=lambda row: (-row[1], -row[2], row[0]))
    return rated[:top]


class _CountingTransaction:
    def __init__(self, tx: Transaction, store: CountingStore, touched: list[str]) -> None:
        self._tx = tx
        self._store = store
        self._touched = touched

    def get(self, path: str) -> Document | None:
        self._touched.append(path)
        self._store.count("reads", path)
        return self._tx.get(path)

    def set(self, path: str, data: Document) -> None:
        self._touched.append(path)
        self._store.count("writes", path)
        self._tx.set(path, data)

    def delete(self, path: str) -> None:
        self._touched.append(path)
        self._store.count("writes", path)
        self._tx.delete(path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)
