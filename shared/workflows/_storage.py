"""The storage half of :class:`~shared.workflows.checkpoint.FirestoreSaver`: document paths,
values inline or chunked past Firestore's 1 MiB document limit, channel-version blobs, the
thread's fencing lease, and writes batched under the request size cap."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver, ChannelVersions

from shared.errors import Conflict, TransientError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from langchain_core.runnables import RunnableConfig

    from shared.store.base import DocumentStore

CHUNK_BYTES = 900_000  # a value larger than this is chunked (Firestore documents: 1 MiB)
REQUEST_BYTES = 3_000_000  # per batched write (the emulator takes 4 MiB, Firestore 10 MiB)
_IN_LIMIT = 30  # Firestore's limit on values in an "in" filter


class LeaseLost(Conflict):
    """Another runner holds a newer lease on this thread; this one must stop."""

    code = "lease_lost"


def _h(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


class SaverStorage(BaseCheckpointSaver[int]):
    """Where a saver's documents live and how they are written: paths, inline or chunked
    payloads, channel-version blobs, the fencing lease and the guarded write."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        root: str = "langgraph/default",
        ttl: timedelta | None = None,
    ) -> None:
        """``root`` is a document path (an even number of segments) whose subcollections hold
        the state; ``ttl`` sets ``expires_at`` on every document for Firestore's TTL policy.

        Raises:
            ValueError: ``root`` is not a document path.
        """
        super().__init__()
        self._root = root.strip("/")
        if len(self._root.split("/")) % 2:
            raise ValueError(f"root must be a document path like 'langgraph/default', got {root!r}")
        self._store = store
        self._ttl = ttl

    # --- paths ----------------------------------------------------------------------------------
    def _col(self, name: str) -> str:
        return f"{self._root}/{name}"

    def _doc(self, name: str, doc_id: str) -> str:
        return f"{self._root}/{name}/{doc_id}"

    def _expiry(self) -> dict[str, Any]:
        return {"expires_at": datetime.now(UTC) + self._ttl} if self._ttl else {}

    # --- payloads: inline, or chunked past the document limit ------------------------------------
    def _payload(
        self, key: str, thread: str, kind: str, data: bytes
    ) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        """The fields a document keeps for a serialised value, and the chunk documents (keyed
        ``{key}-{n}``) that hold it when it is too large for one document."""
        if len(data) <= CHUNK_BYTES:
            return {"type": kind, "data": data}, []
        parts = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
        chunks = [
            (
                self._doc("blob_chunks", f"{key}-{n}"),
                {"thread_id": thread, "data": part, **self._expiry()},
            )
            for n, part in enumerate(parts)
        ]
        return {"type": kind, "chunks": len(parts)}, chunks

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

    # --- blobs ----------------------------------------------------------------------------------
    def _blob_id(self, thread: str, ns: str, channel: str, version: Any) -> str:
        return _h(thread, ns, channel, str(version))

    def _blob_docs(
        self, thread: str, ns: str, values: dict[str, Any], versions: ChannelVersions
    ) -> list[tuple[str, dict[str, Any]]]:
        docs: list[tuple[str, dict[str, Any]]] = []
        for channel, version in versions.items():
            blob_id = self._blob_id(thread, ns, channel, version)
            base = {
                "thread_id": thread,
                "checkpoint_ns": ns,
                "channel": channel,
                "version": str(version),
                **self._expiry(),
            }
            if channel not in values:
                docs.append((self._doc("blobs", blob_id), {**base, "type": "empty"}))
                continue
            kind, data = self.serde.dumps_typed(values[channel])
            fields, chunks = self._payload(blob_id, thread, kind, data)
            docs += chunks
            docs.append((self._doc("blobs", blob_id), {**base, **fields}))
        return docs

    def _load_values(self, thread: str, ns: str, versions: ChannelVersions) -> dict[str, Any]:
        items = list(versions.items())
        paths = [self._doc("blobs", self._blob_id(thread, ns, c, v)) for c, v in items]
        values: dict[str, Any] = {}
        for (channel, version), doc in zip(items, self._store.get_many(paths), strict=True):
            if doc is None or doc["type"] == "empty":
                continue
            values[channel] = self._read_payload(self._blob_id(thread, ns, channel, version), doc)
        return values

    # --- leases ---------------------------------------------------------------------------------
    def acquire_lease(self, thread_id: str) -> int:
        """A new fencing token for ``thread_id``; every older token is refused from now on."""
        path = self._doc("threads", _h(thread_id))

        def _take(tx: Any) -> int:
            doc = tx.get(path) or {"thread_id": thread_id}
            token = int(doc.get("lease_token", 0)) + 1
            tx.set(path, {**doc, "lease_token": token, "leased_at": datetime.now(UTC)})
            return token

        return int(self._store.run_transaction(_take))

    def _write(self, config: RunnableConfig, docs: list[tuple[str, dict[str, Any]]]) -> None:
        """Write ``docs`` at once; under a lease token, in a transaction that checks it first."""
        token = config["configurable"].get("lease_token")
        thread = str(config["configurable"]["thread_id"])
        if token is None:
            self._set_sized(docs)
            return
        # Blob versions are content-addressed: written ahead, outside the guarded transaction
        # (a refused writer leaves only values that nothing references; prune removes them).
        ahead = [d for d in docs if "/blobs/" in d[0]]
        self._set_sized(ahead)
        docs = [d for d in docs if "/blobs/" not in d[0]]
        path = self._doc("threads", _h(thread))

        def _guarded(tx: Any) -> None:
            current = tx.get(path) or {}
            if int(current.get("lease_token", 0)) != int(token):
                raise LeaseLost(
                    f"thread {thread} is leased to a newer runner "
                    f"(token {current.get('lease_token')}, this one {token})"
                )
            # The lease document is only read: concurrent writers of one step (a checkpoint and
            # its tasks' writes) then do not queue behind each other on it.
            for doc_path, data in docs:
                tx.set(doc_path, data)

        self._store.run_transaction(_guarded)

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
        for write_id, write in self._store.query(
            self._col("writes"),
            where=[
                ("thread_id", "==", doc["thread_id"]),
                ("checkpoint_id", "==", doc["checkpoint_id"]),
            ],
        ):
            if write["checkpoint_ns"] == doc["checkpoint_ns"]:
                self._store.delete(self._doc("writes", write_id))
                self._drop_chunks(write_id, write)
