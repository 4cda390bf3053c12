"""A LangGraph checkpoint saver on Firestore (or any :class:`DocumentStore`), built for
Firestore's limits and its bill (each document read or written is an operation).

Layout under a root *document* path (``langgraph/default`` by default; a tenant's workflows
use ``tenants/{t}/workflow_state/lg``), each a flat collection so one query serves ``list``,
``delete_for_runs`` and ``prune``:

- ``checkpoints/{h}``: one per checkpoint: ids, parent, run id, the checkpoint and metadata
  (serialised with the saver's serde) and its channel values inline, each up to 32 KB.
- ``blobs/{h}``: a larger value, one per (thread, namespace, channel, version), written once and
  shared by every checkpoint that sees that version; past ~900 KB it is split into
  ``blob_chunks/{h}-{n}`` (Firestore's 1 MiB document limit).
- ``writes/{h}``: one per checkpoint: its pending writes (task, index, channel, value), read
  back by ``get_tuple`` so nodes that succeeded in a failed step are not run again.
- ``threads/{thread}``: the thread's lease token (fencing).

Two writers on one thread: the runner takes a lease (:meth:`FirestoreSaver.acquire_lease`) and
passes its token in ``config["configurable"]["lease_token"]``; a write carrying an older token is
refused with :class:`LeaseLost` in the same transaction that would have written it, so exactly
one wins. With ``defer_writes`` a step costs one transaction: its writes, its checkpoint and the
caller's own record (``on_commit``); see ``shared/capabilities/workflows/_storage.py`` (writes,
leases, commits) and ``_payloads.py`` (paths, inline values, blobs and chunks).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
)
from typing_extensions import override

from shared.capabilities.workflows._payloads import CHUNK_BYTES, key_hash
from shared.capabilities.workflows._storage import LeaseLost, SaverStorage, _merge

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig


__all__ = ["CHUNK_BYTES", "FirestoreSaver", "LeaseLost", "saver_from_env"]


class FirestoreSaver(SaverStorage):
    """The LangGraph saver interface (sync and async) over :class:`SaverStorage`."""

    # --- the saver interface --------------------------------------------------------------------
    @override
    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        conf = config["configurable"]
        thread, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        fields, ahead = self._values_fields(thread, ns, dict(checkpoint))
        self._set_sized(ahead)
        stripped = {k: v for k, v in checkpoint.items() if k != "channel_values"}
        kind, data = self.serde.dumps_typed(stripped)
        meta_kind, meta = self.serde.dumps_typed(dict(metadata))
        doc = {
            "thread_id": thread,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint["id"],
            "parent_checkpoint_id": conf.get("checkpoint_id"),
            "run_id": metadata.get("run_id"),
            "type": kind,
            "checkpoint": data,
            "metadata_type": meta_kind,
            "metadata": meta,
            **fields,
            "written_at": datetime.now(UTC),
            **self._expiry(),
        }
        path = self._doc("checkpoints", key_hash(thread, ns, checkpoint["id"]))
        deferred = self._deferred(config)
        if deferred:  # this process is the thread's writer: what it writes is the state
            with self._lock:  # (known before the commit: the next step's tasks may finish first)
                self._known.setdefault((thread, ns, checkpoint["id"]), {})
        self._commit(config, checkpoint=(path, doc))
        if deferred:
            with self._lock:
                self._latest[(thread, ns)] = doc
        return {
            "configurable": {
                "thread_id": thread,
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    @override
    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        conf = config["configurable"]
        key = (
            str(conf["thread_id"]),
            str(conf.get("checkpoint_ns", "")),
            str(conf["checkpoint_id"]),
        )
        entries = self._entries(key, writes, task_id, task_path)
        if not self._deferred(config):
            self._commit(config, new_writes=(key, entries))
            return
        self._pending(key, deferred=True)  # known from here on (read once if it was not)
        with self._lock:
            taken = _merge(self._known[key], entries)
            if taken:
                self._dirty.setdefault(key, []).extend(
                    (e["task_id"], e["channel"], e["value"]) for e in taken
                )

    def _tuple(self, doc: dict[str, Any], deferred: bool = False) -> CheckpointTuple:
        thread, ns = doc["thread_id"], doc["checkpoint_ns"]
        checkpoint = self.serde.loads_typed((doc["type"], bytes(doc["checkpoint"])))
        checkpoint["channel_values"] = self._load_values(
            doc, checkpoint.get("channel_versions", {})
        )
        metadata = self.serde.loads_typed((doc["metadata_type"], bytes(doc["metadata"])))
        parent = doc.get("parent_checkpoint_id")
        return CheckpointTuple(
            config={
                "configurable": {
                    "thread_id": thread,
                    "checkpoint_ns": ns,
                    "checkpoint_id": doc["checkpoint_id"],
                }
            },
            checkpoint=checkpoint,
            metadata=metadata,
            parent_config=(
                {
                    "configurable": {
                        "thread_id": thread,
                        "checkpoint_ns": ns,
                        "checkpoint_id": parent,
                    }
                }
                if parent
                else None
            ),
            pending_writes=self._pending((thread, ns, doc["checkpoint_id"]), deferred),
        )

    def _checkpoint_docs(self, thread: str | None, ns: str | None) -> list[dict[str, Any]]:
        where: list[Any] = []
        if thread is not None:
            where.append(("thread_id", "==", thread))
        docs = [d for _, d in self._store.query(self._col("checkpoints"), where=where)]
        if ns is not None:
            docs = [d for d in docs if d["checkpoint_ns"] == ns]
        docs.sort(key=lambda d: d["checkpoint_id"], reverse=True)
        return docs

    @override
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        conf = config["configurable"]
        thread, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        checkpoint_id = get_checkpoint_id(config)
        deferred = self._deferred(config)
        with self._lock:
            known = deferred and (thread, ns) in self._latest
            doc = self._latest.get((thread, ns)) if known else None
        if known and (doc is None or checkpoint_id in (None, doc["checkpoint_id"])):
            return None if doc is None else self._tuple(doc, deferred)
        if checkpoint_id:
            doc = self._store.get(self._doc("checkpoints", key_hash(thread, ns, checkpoint_id)))
        else:
            latest = self._store.query(
                self._col("checkpoints"),
                where=[("thread_id", "==", thread), ("checkpoint_ns", "==", ns)],
                order_by="checkpoint_id",
                descending=True,
                limit=1,
            )
            doc = latest[0][1] if latest else None
            if deferred:  # under the lease nobody else writes it: the next look needs no query
                with self._lock:
                    self._latest.setdefault((thread, ns), doc)
        return self._tuple(doc, deferred) if doc is not None else None

    @override
    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        conf = (config or {}).get("configurable", {})
        thread = str(conf["thread_id"]) if conf.get("thread_id") is not None else None
        ns = conf.get("checkpoint_ns")
        docs = self._checkpoint_docs(thread, None if ns is None else str(ns))
        if conf.get("checkpoint_id"):
            docs = [d for d in docs if d["checkpoint_id"] == conf["checkpoint_id"]]
        before_id = get_checkpoint_id(before) if before else None
        if before_id:
            docs = [d for d in docs if d["checkpoint_id"] < before_id]
        count = 0
        for doc in docs:
            if limit is not None and count >= limit:
                return
            if filter:
                metadata = self.serde.loads_typed((doc["metadata_type"], bytes(doc["metadata"])))
                if any(metadata.get(k) != v for k, v in filter.items()):
                    continue
            count += 1
            yield self._tuple(doc)

    # --- maintenance ----------------------------------------------------------------------------
    @override
    def delete_thread(self, thread_id: str) -> None:
        for name in ("checkpoints", "writes", "blobs", "blob_chunks"):
            self._delete_where(name, "thread_id", [str(thread_id)])
        self._store.delete(self._doc("threads", key_hash(str(thread_id))))
        with self._lock:
            self._forget(str(thread_id))

    @override
    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints and pending writes the given runs made."""
        removed = self._delete_where("checkpoints", "run_id", [str(r) for r in run_ids])
        for doc in removed:
            self._delete_checkpoint_writes(doc)

    @override
    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a thread's checkpoints and writes to another thread id."""
        source, target = str(source_thread_id), str(target_thread_id)
        docs: list[tuple[str, dict[str, Any]]] = []
        chunks: list[tuple[str, dict[str, Any]]] = []

        def copy_chunks(old_key: str, new_key: str, count: int) -> None:
            for n in range(count):
                chunk = self._store.get(self._doc("blob_chunks", f"{old_key}-{n}"))
                if chunk is not None:
                    new = {**chunk, "thread_id": target}
                    chunks.append((self._doc("blob_chunks", f"{new_key}-{n}"), new))

        for name in ("checkpoints", "writes", "blobs"):
            for old_id, doc in self._store.query(
                self._col(name), where=[("thread_id", "==", source)]
            ):
                ns = doc["checkpoint_ns"]
                if name == "blobs":
                    new_id = self._blob_id(target, ns, doc["channel"], doc["version"])
                    copy_chunks(old_id, new_id, int(doc.get("chunks", 0)))
                else:
                    new_id = key_hash(target, ns, doc["checkpoint_id"])
                for entry in doc.get("entries", []) if name == "writes" else []:
                    ids = (doc["checkpoint_id"], entry["task_id"], str(entry["idx"]))
                    copy_chunks(
                        key_hash(source, ns, *ids),
                        key_hash(target, ns, *ids),
                        entry.get("chunks", 0),
                    )
                docs.append((self._doc(name, new_id), {**doc, "thread_id": target}))
        self._set_sized(chunks)
        self._set_sized(docs)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest``: per namespace, only the newest checkpoint, its writes and the blob
        versions it references remain. ``delete``: the whole thread goes."""
        for thread_id in thread_ids:
            thread = str(thread_id)
            if strategy == "delete":
                self.delete_thread(thread)
                continue
            if strategy != "keep_latest":
                raise ValueError(f"unknown prune strategy {strategy!r}")
            docs = self._checkpoint_docs(thread, None)
            keep: dict[str, dict[str, Any]] = {}
            for doc in docs:  # newest first
                keep.setdefault(doc["checkpoint_ns"], doc)
            kept_ids = {(d["checkpoint_ns"], d["checkpoint_id"]) for d in keep.values()}
            referenced = set()
            for doc in keep.values():
                saved = self.serde.loads_typed((doc["type"], bytes(doc["checkpoint"])))
                for channel, version in saved.get("channel_versions", {}).items():
                    referenced.add(self._blob_id(thread, doc["checkpoint_ns"], channel, version))
            for doc in docs:
                if (doc["checkpoint_ns"], doc["checkpoint_id"]) in kept_ids:
                    continue
                self._store.delete(
                    self._doc(
                        "checkpoints", key_hash(thread, doc["checkpoint_ns"], doc["checkpoint_id"])
                    )
                )
                self._delete_checkpoint_writes(doc)
            for blob_id, blob in self._store.query(
                self._col("blobs"), where=[("thread_id", "==", thread)]
            ):
                if blob_id not in referenced:
                    self._store.delete(self._doc("blobs", blob_id))
                    self._drop_chunks(blob_id, blob)

    # --- async: the sync client in a worker thread ----------------------------------------------
    @override
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    @override
    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        found = await asyncio.to_thread(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )
        for item in found:
            yield item

    @override
    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    @override
    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    @override
    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    @override
    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async :meth:`delete_for_runs`."""
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    @override
    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async :meth:`copy_thread`."""
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    @override
    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async pruning of old checkpoints of the given threads."""
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)


def saver_from_env(
    root: str = "langgraph/default", environ: dict[str, str] | None = None
) -> FirestoreSaver:
    """A saver on the Firestore of ``GOOGLE_CLOUD_PROJECT`` (the emulator at
    ``FIRESTORE_EMULATOR_HOST`` when set).

    Raises:
        ConfigError: GOOGLE_CLOUD_PROJECT is missing.
    """
    from shared.core.errors import ConfigError
    from shared.core.store.firestore import FirestoreStore, single_threaded_streams

    env = os.environ if environ is None else environ
    project = env.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise ConfigError("GOOGLE_CLOUD_PROJECT is required (the Google Cloud project id)")
    from google.cloud import firestore

    single_threaded_streams()
    client = firestore.Client(
        project=project, database=env.get("FIRESTORE_DATABASE") or "(default)"
    )
    return FirestoreSaver(FirestoreStore(client), root=root)
