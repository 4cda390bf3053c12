"""The storage half of :class:`~shared.capabilities.workflows.checkpoint.FirestoreSaver`: one
pending-writes document per checkpoint, the thread's fencing lease, and the commit that writes a
step at once (paths and payloads: :mod:`~shared.capabilities.workflows._payloads`).

Deferred writes (``defer_writes=True``, and only under a lease token): the owner of the lease is
the thread's only writer, so what this process wrote or read is the state; nothing is read back.
A task's pending writes wait in memory and go out with the next checkpoint, in the same
transaction that checks the lease (and that the ``on_commit`` hook joins to write its own record;
optimistic, given the process's ``versions``),
or at :meth:`SaverStorage.flush`, which the caller runs when the stream ends or fails. The cost:
a process killed between a task's end and that commit runs the task again.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

from langgraph.checkpoint.base import WRITES_IDX_MAP, writes_sort_key

from shared.capabilities.workflows._payloads import (
    DOC_BYTES,
    INLINE_BYTES,
    PayloadStorage,
    key_hash,
)
from shared.core.errors import Conflict
from shared.core.store.optimistic import Versions, run_optimistic

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from langchain_core.runnables import RunnableConfig

    from shared.core.store.base import DocumentStore, Transaction

    # Joins a commit: called in its transaction with the writes it makes durable for the first
    # time, as (task id, channel, value); it may read (before any write) and write its own
    # documents, and returns what to run once the transaction has committed (or None).
    OnCommit: TypeAlias = Callable[
        [Transaction, list[tuple[str, str, Any]]], Callable[[], None] | None
    ]

_IN_LIMIT = 30  # Firestore's limit on values in an "in" filter

Key = tuple[str, str, str]  # (thread, namespace, checkpoint id)
# One pending write: task, index, channel, payload (and, in memory only, the value itself).
Entry = dict[str, Any]


class LeaseLost(Conflict):
    """Another runner holds a newer lease on this thread; this one must stop."""

    code = "lease_lost"


def _merge(entries: dict[tuple[str, int], Entry], new: list[Entry]) -> list[Entry]:
    """Add ``new`` to ``entries``: a regular write is kept as first written, a special one
    (error, interrupt, resume) replaced. Returns the entries taken."""
    taken = []
    for entry in new:
        key = (entry["task_id"], int(entry["idx"]))
        if entry["idx"] >= 0 and key in entries:
            continue
        entries[key] = entry
        taken.append(entry)
    return taken


class SaverStorage(PayloadStorage):
    """Where a saver's documents live and how they are written."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        root: str = "langgraph/default",
        ttl: timedelta | None = None,
        defer_writes: bool = False,
        on_commit: OnCommit | None = None,
        lease_doc: str | None = None,
        versions: Versions | None = None,
    ) -> None:
        """``root`` is a document path (an even number of segments) whose subcollections hold
        the state; ``ttl`` sets ``expires_at`` on every document for Firestore's TTL policy;
        ``defer_writes`` and ``on_commit``: see the module's docstring. ``lease_doc``: the
        document whose ``lease_token`` fences writers (default: one per thread, under ``threads``);
        a caller that already reads a document in every commit (its hook) puts the token there,
        so fencing costs no read of its own. ``versions``: commits are optimistic
        (:func:`~shared.core.store.optimistic.run_optimistic`), reading the lease document from
        what the process last committed (the lease's owner is its only writer) instead of in a
        transaction.

        Raises:
            ValueError: ``root`` is not a document path.
        """
        super().__init__(store, root, ttl)
        self._defer = defer_writes
        self._on_commit = on_commit
        self._lease_doc = lease_doc
        self._versions = versions
        self._lock = threading.Lock()
        # Deferred mode only (this process holds the lease): the pending writes known for each
        # checkpoint, which of them are not durable yet, and the newest checkpoint per namespace.
        self._known: dict[Key, dict[tuple[str, int], Entry]] = {}
        self._dirty: dict[Key, list[tuple[str, str, Any]]] = {}
        self._latest: dict[tuple[str, str], dict[str, Any] | None] = {}

    # --- paths ----------------------------------------------------------------------------------
    def _deferred(self, config: RunnableConfig) -> bool:
        return self._defer and config["configurable"].get("lease_token") is not None

    # --- pending writes: one document per checkpoint ----------------------------------------------
    def _writes_path(self, key: Key) -> str:
        return self._doc("writes", key_hash(*key))

    def _entries(
        self, key: Key, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str
    ) -> list[Entry]:
        """Stored form of one task's writes; a large value goes to chunk documents now."""
        entries: list[Entry] = []
        chunks: list[tuple[str, dict[str, Any]]] = []
        for idx, (channel, value) in enumerate(writes):
            idx = WRITES_IDX_MAP.get(channel, idx)
            kind, data = self.serde.dumps_typed(value)
            entry = {
                "task_id": task_id,
                "task_path": task_path,
                "idx": idx,
                "channel": channel,
                "value": value,
            }
            if len(data) <= INLINE_BYTES:
                entries.append({**entry, "type": kind, "data": data})
                continue
            count, docs = self._spill(key_hash(*key, task_id, str(idx)), key[0], data)
            chunks += docs
            entries.append({**entry, "type": kind, "chunks": count})
        self._set_sized(chunks)
        return entries

    def _writes_doc(
        self, key: Key, entries: dict[tuple[str, int], Entry]
    ) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        """The writes document for ``key``, and the chunk documents of inline values that no
        longer fit in it (they are moved out in the same commit)."""
        stored, chunks, used = [], [], 0
        for entry in entries.values():
            if "data" in entry and used + len(entry["data"]) > DOC_BYTES:
                wid = key_hash(*key, entry["task_id"], str(entry["idx"]))
                count, docs = self._spill(wid, key[0], bytes(entry["data"]))
                chunks += docs
                entry = {k: v for k, v in entry.items() if k != "data"} | {"chunks": count}
            used += len(entry.get("data", b""))
            stored.append(entry)
        thread, ns, checkpoint_id = key
        doc = {
            "thread_id": thread,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
            "entries": stored,
            **self._expiry(),
        }
        return doc, chunks

    def _stored_entries(self, doc: dict[str, Any] | None) -> dict[tuple[str, int], Entry]:
        return {(e["task_id"], int(e["idx"])): e for e in (doc or {}).get("entries", [])}

    def _pending(self, key: Key, deferred: bool) -> list[tuple[str, str, Any]]:
        """The pending writes of a checkpoint, in LangGraph's order."""
        with self._lock:
            known = self._known.get(key) if deferred else None
        if known is None:
            known = self._stored_entries(self._store.get(self._writes_path(key)))
            if deferred:
                with self._lock:
                    known = self._known.setdefault(key, known)
        rows = sorted(
            known.values(), key=lambda e: writes_sort_key(e["task_path"], e["task_id"], e["idx"])
        )
        return [(e["task_id"], e["channel"], self._value(key, e)) for e in rows]

    def _value(self, key: Key, entry: Entry) -> Any:
        if "value" in entry:
            return entry["value"]
        return self._read_payload(key_hash(*key, entry["task_id"], str(entry["idx"])), entry)

    # --- leases and the commit ------------------------------------------------------------------
    def _lease_path(self, thread: str) -> str:
        return self._lease_doc or self._doc("threads", key_hash(thread))

    def acquire_lease(self, thread_id: str) -> int:
        """A new fencing token for ``thread_id``; every older token is refused from now on."""
        path = self._lease_path(thread_id)

        def _take(tx: Any) -> int:
            doc = tx.get(path) or {"thread_id": thread_id}
            token = int(doc.get("lease_token", 0)) + 1
            tx.set(path, {**doc, "lease_token": token, "leased_at": datetime.now(UTC)})
            return token

        return int(self._store.run_transaction(_take))

    def _commit(
        self,
        config: RunnableConfig,
        *,
        checkpoint: tuple[str, dict[str, Any]] | None = None,
        new_writes: tuple[Key, list[Entry]] | None = None,
    ) -> None:
        """Write a checkpoint and pending writes at once. Deferred: every write not yet durable
        goes with it, and the hook joins. Otherwise ``new_writes`` are merged into their stored
        document. Under a lease token, the transaction first checks the token."""
        token = config["configurable"].get("lease_token")
        thread = str(config["configurable"]["thread_id"])
        lease = self._lease_path(thread)
        deferred = self._deferred(config)
        with self._lock:  # a snapshot: tasks of the next step may add writes meanwhile
            dirty = {k: list(v) for k, v in self._dirty.items()} if deferred else {}
            known = {k: dict(self._known.get(k, {})) for k in dirty}
        if not dirty and new_writes is None and token is None and checkpoint is not None:
            self._store.set(*checkpoint)  # nothing to check or merge: one plain write
            return

        def _tx(raw: Transaction) -> None:
            tx = _ReadOnce(raw)
            if token is not None:
                _check_lease(tx, lease, thread, int(token))
            docs = dict(known)
            fresh = [w for writes in dirty.values() for w in writes]
            if new_writes is not None:
                key, added = new_writes
                docs[key] = self._stored_entries(tx.get(self._writes_path(key)))
                fresh += [
                    (e["task_id"], e["channel"], e["value"]) for e in _merge(docs[key], added)
                ]
            then.clear()
            if fresh and self._on_commit is not None:
                then.append(self._on_commit(tx, fresh))
            for key, stored in docs.items():
                doc, chunks = self._writes_doc(key, {k: _clean(e) for k, e in stored.items()})
                for path, data in [*chunks, (self._writes_path(key), doc)]:
                    tx.set(path, data)
            if checkpoint is not None:
                tx.set(*checkpoint)

        then: list[Callable[[], None] | None] = []
        if self._versions is not None:
            run_optimistic(self._store, _tx, self._versions)
        else:
            self._store.run_transaction(_tx)
        for after in then:
            if after is not None:
                after()
        self._committed(dirty)

    def _committed(self, dirty: dict[Key, list[tuple[str, str, Any]]]) -> None:
        """Forget the pending writes that ``dirty`` held: they are durable now (writes added
        since the snapshot stay for the next commit)."""
        with self._lock:
            for key, committed in dirty.items():
                left = self._dirty.get(key, [])[len(committed) :]
                if left:
                    self._dirty[key] = left
                else:
                    self._dirty.pop(key, None)

    def _forget(self, thread: str) -> None:
        """Drop what this process knows of ``thread`` (it was deleted). Call under the lock."""
        for key in [k for k in self._known if k[0] == thread]:
            self._known.pop(key, None)
            self._dirty.pop(key, None)
        for latest in [k for k in self._latest if k[0] == thread]:
            self._latest.pop(latest, None)

    def flush(self, config: RunnableConfig) -> None:
        """Make every deferred write durable (the stream ended or failed)."""
        with self._lock:
            pending = any(self._dirty.values())
        if pending:
            self._commit(config)

    # --- deletes ----------------------------------------------------------------------------------
    def _delete_where(
        self, name: str, field: str, values: Sequence[str]
    ) -> Sequence[dict[str, Any]]:
        removed: list[dict[str, Any]] = []
        for start in range(0, len(values), _IN_LIMIT):
            part = values[start : start + _IN_LIMIT]
            for doc_id, doc in self._store.query(self._col(name), where=[(field, "in", part)]):
                self._store.delete(self._doc(name, doc_id))
                removed.append(doc)
        return removed

    def _delete_checkpoint_writes(self, doc: dict[str, Any]) -> None:
        key = (doc["thread_id"], doc["checkpoint_ns"], doc["checkpoint_id"])
        stored = self._store.get(self._writes_path(key))
        for entry in (stored or {}).get("entries", []):
            self._drop_chunks(key_hash(*key, entry["task_id"], str(entry["idx"])), entry)
        self._store.delete(self._writes_path(key))
        with self._lock:
            self._known.pop(key, None)
            self._dirty.pop(key, None)


class _ReadOnce:
    """A transaction that reads each document once (the lease, when the hook reads it too)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._read: dict[str, dict[str, Any] | None] = {}

    def get(self, path: str) -> dict[str, Any] | None:
        if path not in self._read:
            self._read[path] = self._tx.get(path)
        found = self._read[path]
        return None if found is None else dict(found)

    def set(self, path: str, data: dict[str, Any]) -> None:
        self._tx.set(path, data)

    def delete(self, path: str) -> None:
        self._tx.delete(path)


def _clean(entry: Entry) -> Entry:
    """An entry as stored (without the in-memory value the hook is given)."""
    return {k: v for k, v in entry.items() if k != "value"}


def _check_lease(tx: Any, lease: str, thread: str, token: int) -> None:
    """Raise LeaseLost unless ``token`` is the thread's current fencing token. The lease document
    is only read: writers of one step do not queue behind it."""
    current = tx.get(lease) or {}
    if int(current.get("lease_token", 0)) != token:
        raise LeaseLost(
            f"thread {thread} is leased to a newer runner "
            f"(token {current.get('lease_token')}, this one {token})"
        )
