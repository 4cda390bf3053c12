"""The storage half of :class:`~shared.capabilities.workflows.checkpoint.FirestoreSaver`: document paths,
values inline in their checkpoint (or spilled to version-keyed blobs and chunks past Firestore's
document limits), one pending-writes document per checkpoint, the thread's fencing lease, and
the commit that writes a step at once.

Deferred writes (``defer_writes=True``, and only under a lease token): the owner of the lease is
the thread's only writer, so what this process wrote or read is the state; nothing is read back.
A task's pending writes wait in memory and go out with the next checkpoint, in the same
transaction that checks the lease (and that the ``on_commit`` hook joins to write its own record),
or at :meth:`SaverStorage.flush`, which the caller runs when the stream ends or fails. The cost:
a process killed between a task's end and that commit runs the task again.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

from langgraph.checkpoint.base import WRITES_IDX_MAP, BaseCheckpointSaver, writes_sort_key

from shared.core.errors import Conflict, TransientError

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

CHUNK_BYTES = 900_000  # one chunk document's payload (Firestore documents: 1 MiB)
INLINE_BYTES = 32_000  # a value up to this size stays inside its checkpoint or writes document
DOC_BYTES = 700_000  # inline payload per document; values past it spill to their own documents
REQUEST_BYTES = 3_000_000  # per batched write (the emulator takes 4 MiB, Firestore 10 MiB)
_IN_LIMIT = 30  # Firestore's limit on values in an "in" filter

Key = tuple[str, str, str]  # (thread, namespace, checkpoint id)
# One pending write: task, index, channel, payload (and, in memory only, the value itself).
Entry = dict[str, Any]


class LeaseLost(Conflict):
    """Another runner holds a newer lease on this thread; this one must stop."""

    code = "lease_lost"


def _h(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


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


class SaverStorage(BaseCheckpointSaver[int]):
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
    ) -> None:
        """``root`` is a document path (an even number of segments) whose subcollections hold
        the state; ``ttl`` sets ``expires_at`` on every document for Firestore's TTL policy;
        ``defer_writes`` and ``on_commit``: see the module's docstring. ``lease_doc``: the
        document whose ``lease_token`` fences writers (default: one per thread, under ``threads``);
        a caller that already reads a document in every commit (its hook) puts the token there,
        so fencing costs no read of its own.

        Raises:
            ValueError: ``root`` is not a document path.
        """
        super().__init__()
        self._root = root.strip("/")
        if len(self._root.split("/")) % 2:
            raise ValueError(f"root must be a document path like 'langgraph/default', got {root!r}")
        self._store = store
        self._ttl = ttl
        self._defer = defer_writes
        self._on_commit = on_commit
        self._lease_doc = lease_doc
        self._lock = threading.Lock()
        # Deferred mode only (this process holds the lease): the pending writes known for each
        # checkpoint, which of them are not durable yet, and the newest checkpoint per namespace.
        self._known: dict[Key, dict[tuple[str, int], Entry]] = {}
        self._dirty: dict[Key, list[tuple[str, str, Any]]] = {}
        self._latest: dict[tuple[str, str], dict[str, Any] | None] = {}

    # --- paths ----------------------------------------------------------------------------------
    def _col(self, name: str) -> str:
        return f"{self._root}/{name}"

    def _doc(self, name: str, doc_id: str) -> str:
        return f"{self._root}/{name}/{doc_id}"

    def _expiry(self) -> dict[str, Any]:
        return {"expires_at": datetime.now(UTC) + self._ttl} if self._ttl else {}

    def _deferred(self, config: RunnableConfig) -> bool:
        return self._defer and config["configurable"].get("lease_token") is not None

    # --- payloads: inline, or spilled to chunk documents ------------------------------------------
    def _spill(
        self, key: str, thread: str, data: bytes
    ) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
        """The chunk documents (keyed ``{key}-{n}``) holding ``data``, and how many there are."""
        parts = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
        docs = [
            (
                self._doc("blob_chunks", f"{key}-{n}"),
                {"thread_id": thread, "data": part, **self._expiry()},
            )
            for n, part in enumerate(parts)
        ]
        return len(parts), docs

    def _read_payload(self, key: str, doc: dict[str, Any]) -> Any:
        if "chunks" in doc:
            parts = self._store.get_many(
                [self._doc("blob_chunks", f"{key}-{n}") for n in range(int(doc["chunks"]))]
            )
            if any(p is None for p in parts):
                raise TransientError(f"a chunk of checkpoint value {key} is missing")
            data = b"".join(bytes(p["data"]) for p in parts if p is not None)
        else:
            data = bytes(doc["data"])
        return self.serde.loads_typed((doc["type"], data))

    def _set_sized(self, docs: list[tuple[str, dict[str, Any]]]) -> None:
        """Write ``docs`` in as few batches as the request size cap allows."""
        batch: list[tuple[str, dict[str, Any]]] = []
        size = 0
        for path, data in docs:
            weight = 1_000 + sum(len(v) for v in data.values() if isinstance(v, bytes))
            if batch and size + weight > REQUEST_BYTES:
                self._store.set_many(batch)
                batch, size = [], 0
            batch.append((path, data))
            size += weight
        if batch:
            self._store.set_many(batch)

    def _drop_chunks(self, key: str, doc: dict[str, Any]) -> None:
        for n in range(int(doc.get("chunks", 0))):
            self._store.delete(self._doc("blob_chunks", f"{key}-{n}"))

    # --- channel values: inline in the checkpoint, large ones in blobs per version ---------------
    def _blob_id(self, thread: str, ns: str, channel: str, version: Any) -> str:
        return _h(thread, ns, channel, str(version))

    def _values_fields(
        self, thread: str, ns: str, checkpoint: dict[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        """The checkpoint document's ``values`` (inline) and ``blobs`` (channel names) fields, and
        the blob documents to write first. A value larger than ``INLINE_BYTES`` always lives in a
        blob keyed by its version, so it is written once and shared by every checkpoint."""
        versions = checkpoint.get("channel_versions", {})
        inline: list[dict[str, Any]] = []
        spilled: list[str] = []
        ahead: list[tuple[str, dict[str, Any]]] = []
        used = 0
        for channel, value in checkpoint.get("channel_values", {}).items():
            kind, data = self.serde.dumps_typed(value)
            if len(data) <= INLINE_BYTES and used + len(data) <= DOC_BYTES:
                inline.append({"channel": channel, "type": kind, "data": data})
                used += len(data)
                continue
            blob_id = self._blob_id(thread, ns, channel, versions.get(channel))
            base = {
                "thread_id": thread,
                "checkpoint_ns": ns,
                "channel": channel,
                "version": str(versions.get(channel)),
                "type": kind,
                **self._expiry(),
            }
            if len(data) <= CHUNK_BYTES:
                ahead.append((self._doc("blobs", blob_id), {**base, "data": data}))
            else:
                count, chunks = self._spill(blob_id, thread, data)
                ahead += [*chunks, (self._doc("blobs", blob_id), {**base, "chunks": count})]
            spilled.append(channel)
        return {"values": inline, "blobs": spilled}, ahead

    def _load_values(self, doc: dict[str, Any], versions: dict[str, Any]) -> dict[str, Any]:
        thread, ns = doc["thread_id"], doc["checkpoint_ns"]
        values = {
            v["channel"]: self.serde.loads_typed((v["type"], bytes(v["data"])))
            for v in doc.get("values", [])
        }
        channels = [c for c in doc.get("blobs", []) if c in versions]
        ids = [self._blob_id(thread, ns, c, versions[c]) for c in channels]
        found = self._store.get_many([self._doc("blobs", i) for i in ids]) if ids else []
        for channel, blob_id, blob in zip(channels, ids, found, strict=True):
            if blob is None:
                raise TransientError(f"the value of channel {channel!r} of {thread} is missing")
            values[channel] = self._read_payload(blob_id, blob)
        return values

    # --- pending writes: one document per checkpoint ----------------------------------------------
    def _writes_path(self, key: Key) -> str:
        return self._doc("writes", _h(*key))

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
            count, docs = self._spill(_h(*key, task_id, str(idx)), key[0], data)
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
                wid = _h(*key, entry["task_id"], str(entry["idx"]))
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
        return self._read_payload(_h(*key, entry["task_id"], str(entry["idx"])), entry)

    # --- leases and the commit ------------------------------------------------------------------
    def _lease_path(self, thread: str) -> str:
        return self._lease_doc or self._doc("threads", _h(thread))

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
            self._drop_chunks(_h(*key, entry["task_id"], str(entry["idx"])), entry)
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
