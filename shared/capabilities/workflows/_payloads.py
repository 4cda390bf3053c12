"""Where a checkpoint saver's payloads live: document paths under the saver's root, values
inline in their document up to a size, larger ones in version-keyed blobs, and past Firestore's
1 MiB document limit in chunk documents; batched writes under the request size cap. The writes,
leases and commits are :mod:`~shared.capabilities.workflows._storage`'s.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from shared.core.errors import TransientError

if TYPE_CHECKING:
    from shared.core.store.base import DocumentStore

CHUNK_BYTES = 900_000  # one chunk document's payload (Firestore documents: 1 MiB)
INLINE_BYTES = 32_000  # a value up to this size stays inside its checkpoint or writes document
DOC_BYTES = 700_000  # inline payload per document; values past it spill to their own documents
REQUEST_BYTES = 3_000_000  # per batched write (the emulator takes 4 MiB, Firestore 10 MiB)


def key_hash(*parts: str) -> str:
    """A document id for ``parts`` (a thread, namespace, checkpoint, ...): fixed length, any
    characters, the same in every process."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


class PayloadStorage(BaseCheckpointSaver[int]):
    """A saver's documents under ``root`` in ``store`` and the payloads they hold."""

    def __init__(self, store: DocumentStore, root: str, ttl: timedelta | None) -> None:
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
        return key_hash(thread, ns, channel, str(version))

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
