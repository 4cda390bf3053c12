"""Firestore implementation of :class:`~shared.core.store.base.DocumentStore`.

The SDK is imported only here, when a store is first built, so units that never touch Firestore
do not pay for it at cold start. Transient backend failures become
:class:`~shared.core.errors.TransientError` so that event and task handlers raise and get retried.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import override

from shared.core.errors import TransientError
from shared.core.store.base import DocumentStore, check_commit
from shared.core.store.firestore_values import add_increment, add_set, from_sdk, to_sdk

if TYPE_CHECKING:
    from google.cloud import firestore

    from shared.core.config import Settings
    from shared.core.store.base import Document, Filter

T = TypeVar("T")


@contextlib.contextmanager
def _transient_errors() -> Iterator[None]:
    from google.api_core import exceptions as gexc

    try:
        yield
    except (
        gexc.ServiceUnavailable,
        gexc.DeadlineExceeded,
        gexc.Aborted,
        gexc.InternalServerError,
        gexc.TooManyRequests,
        gexc.ResourceExhausted,
    ) as exc:
        raise TransientError(f"Firestore is unavailable: {exc.message}") from exc


def _firestore_filter(flt: Filter) -> tuple[str, str, Any]:
    """Our filter as the SDK's (field path, operator, value); ``has_key`` becomes an equality on
    the map entry, its key quoted as a field path needs (keys may start with a digit)."""
    field, op, value = flt
    if op == "has_key":
        from google.cloud.firestore_v1.field_path import FieldPath

        return FieldPath(*field.split("."), str(value)).to_api_repr(), "==", True
    return field, op, value


def _doc(snap: Any) -> Document | None:
    return from_sdk(snap.to_dict()) if snap.exists else None


def build_client(settings: Settings) -> firestore.Client:
    """A Firestore client for the settings' project, on the emulator when one is configured."""
    from google.cloud import firestore

    if settings.firestore_emulator_host:
        # The SDK finds its emulator only through this variable; the settings may have come from
        # an injected mapping, so make the process agree with them before building the client.
        os.environ["FIRESTORE_EMULATOR_HOST"] = settings.firestore_emulator_host
    single_threaded_streams()
    return firestore.Client(project=settings.project_id, database=settings.firestore_database)


def single_threaded_streams() -> bool:
    """Have the Firestore SDK's channels run server-streaming calls (every document read and query:
    BatchGetDocuments, RunQuery) on the calling thread, gRPC's ``SingleThreadedUnaryStream``
    option. Without it gRPC starts a thread to drive a channel's calls whenever none is in
    flight: for sequential reads, a thread per read (issue 19: 9.6 threads per workflow run,
    and 23 % of the runner's CPU per run, 148 -> 114 ms, measured in process on the emulator).

    The SDK builds its channels with fixed option lists and no way to add one, so the option is
    added to those lists (module attributes of the pinned ``google-cloud-firestore``); returns
    whether it is in effect, which ``tests/integration/test_firestore_channel.py`` holds true (a
    new SDK that drops the lists fails there, not in production).
    """
    import grpc
    from google.cloud.firestore_v1 import base_client

    option = (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1)
    lists: list[list[Any]] = []
    for name in ("_GRPC_MSG_SIZE_OPTIONS", "_DEFAULT_CHANNEL_OPTIONS"):
        found = getattr(base_client, name, None)
        if not isinstance(found, list):
            return False
        lists.append(found)
    for options in lists:
        if option not in options:
            options.append(option)
    return True


class _FirestoreTransaction:
    def __init__(self, client: firestore.Client, tx: firestore.Transaction) -> None:
        self._client = client
        self._tx = tx

    def get(self, path: str) -> Document | None:
        snap = self._client.document(path).get(transaction=self._tx)
        return _doc(snap)

    def set(self, path: str, data: Document) -> None:
        add_set(self._tx, self._client.document(path), data)

    def delete(self, path: str) -> None:
        self._tx.delete(self._client.document(path))


class FirestoreStore(DocumentStore):
    """A :class:`DocumentStore` on Firestore (or its emulator)."""

    def __init__(self, client: firestore.Client, *, max_attempts: int = 5, rounds: int = 6) -> None:
        self._client = client
        self._max_attempts = max_attempts
        self._rounds = rounds

    @classmethod
    def from_settings(cls, settings: Settings) -> FirestoreStore:
        """The store on the configured project and database (the emulator locally)."""
        return cls(build_client(settings))

    @property
    def client(self) -> firestore.Client:
        """The Firestore client (for the few callers that need the SDK itself)."""
        return self._client

    @override
    def get(self, path: str) -> Document | None:
        with _transient_errors():
            snap = self._client.document(path).get()
        return _doc(snap)

    @override
    def get_many(self, paths: Sequence[str]) -> list[Document | None]:
        if not paths:
            return []
        refs = [self._client.document(p) for p in paths]
        with _transient_errors():
            found = {s.reference.path: s for s in self._client.get_all(refs)}
        return [_doc(snap) if (snap := found.get(p)) is not None else None for p in paths]

    @override
    def set(self, path: str, data: Document) -> None:
        batch = self._client.batch()
        add_set(batch, self._client.document(path), data)
        with _transient_errors():
            batch.commit()

    @override
    def set_many(self, items: Sequence[tuple[str, Document]]) -> None:
        with _transient_errors():
            for start in range(0, len(items), 400):
                batch = self._client.batch()
                for path, data in items[start : start + 400]:
                    add_set(batch, self._client.document(path), data)
                batch.commit()

    @override
    def create(self, path: str, data: Document) -> bool:
        from google.api_core import exceptions as gexc

        batch = self._client.batch()
        add_set(batch, self._client.document(path), data, exists=False)
        with _transient_errors():
            try:
                batch.commit()
            except gexc.AlreadyExists:
                return False
        return True

    @override
    def create_many(self, items: Sequence[tuple[str, Document]]) -> list[bool]:
        from google.api_core import exceptions as gexc

        created: list[bool] = []
        for start in range(0, len(items), 400):
            part = items[start : start + 400]
            with _transient_errors():
                batch = self._client.batch()
                for path, data in part:
                    add_set(batch, self._client.document(path), data, exists=False)
                try:
                    batch.commit()
                except gexc.AlreadyExists:
                    # One of them exists (a redelivery): the batch wrote nothing; one by one.
                    created += [self.create(path, data) for path, data in part]
                    continue
            created += [True] * len(part)
        return created

    @override
    def delete(self, path: str) -> None:
        with _transient_errors():
            self._client.document(path).delete()

    @override
    def get_versioned(self, path: str) -> tuple[Document | None, Any]:
        with _transient_errors():
            snap = self._client.document(path).get()
        return (_doc(snap), snap.update_time) if snap.exists else (None, None)

    @override
    def set_if(self, path: str, data: Document, version: Any) -> bool:
        from google.api_core import exceptions as gexc

        if version is None:
            return self.create(path, data)
        fields = {self._client.field_path(k): v for k, v in to_sdk(data).items()}
        option = self._client.write_option(last_update_time=version)
        with _transient_errors():
            try:
                self._client.document(path).update(fields, option=option)
            except (gexc.FailedPrecondition, gexc.NotFound):
                return False
        return True

    @override
    def commit(
        self, writes: Sequence[tuple[str, Document | None]], expect: Mapping[str, Any]
    ) -> list[Any] | None:
        from google.api_core import exceptions as gexc

        check_commit(writes, expect)
        client = self._client
        batch = client.batch()
        for path, data in writes:
            ref = client.document(path)
            option = None
            if path in expect:
                version = expect[path]
                option = (
                    client.write_option(exists=False)
                    if version is None
                    else client.write_option(last_update_time=version)
                )
            if data is None:
                batch.delete(ref, option=option)
                continue
            add_set(batch, ref, data)
            if option is not None:
                # The SDK's set takes no precondition; a replace with one is the same write
                # message with ``current_document`` set (what ``update`` does with an option).
                option.modify_write(batch._write_pbs[-1])
        with _transient_errors():
            try:
                results = batch.commit()
            except (gexc.FailedPrecondition, gexc.NotFound, gexc.AlreadyExists):
                return None
        return [
            None if data is None else result.update_time
            for (_, data), result in zip(writes, results, strict=True)
        ]

    @override
    def increment(self, path: str, deltas: Mapping[tuple[str, ...], float]) -> None:
        batch = self._client.batch()
        add_increment(batch, self._client.document(path), deltas)
        with _transient_errors():
            batch.commit()

    @override
    def run_transaction(self, fn: Callable[[Any], T]) -> T:
        from google.cloud import firestore

        client = self._client

        @firestore.transactional
        def _run(tx: firestore.Transaction) -> T:
            result: T = fn(_FirestoreTransaction(client, tx))
            return result

        # The SDK retries an aborted transaction at once; under contention on one document (a
        # budget, a counter) that just collides again, so rounds of attempts are spaced out with
        # jittered backoff before contention is reported as a transient error.
        from google.api_core import exceptions as gexc

        for round_ in range(self._rounds):
            with _transient_errors():
                try:
                    outcome: T = _run(client.transaction(max_attempts=self._max_attempts))
                    return outcome
                except (ValueError, gexc.Aborted) as exc:
                    # ValueError: the SDK's own attempts ran out; Aborted: a read inside the
                    # transaction lost a lock (the emulator locks pessimistically).
                    if isinstance(exc, ValueError) and "Failed to commit transaction" not in str(
                        exc
                    ):
                        raise
                    if round_ == self._rounds - 1:
                        raise TransientError(f"Firestore transaction contention: {exc}") from exc
            time.sleep(random.uniform(0, 0.05 * 2**round_))  # noqa: S311 - jitter, not security
        raise AssertionError("unreachable")

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
        from google.cloud import firestore
        from google.cloud.firestore_v1.base_query import FieldFilter

        query: Any = self._client.collection(collection)
        for flt in where:
            query = query.where(filter=FieldFilter(*_firestore_filter(flt)))
        if order_by is not None:
            direction = firestore.Query.DESCENDING if descending else firestore.Query.ASCENDING
            query = query.order_by(order_by, direction=direction)
        if limit is not None:
            query = query.limit(limit)
        with _transient_errors():
            return [(snap.id, from_sdk(snap.to_dict() or {})) for snap in query.stream()]

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
        from google.cloud.firestore_v1.base_query import FieldFilter
        from google.cloud.firestore_v1.base_vector_query import DistanceMeasure
        from google.cloud.firestore_v1.vector import Vector as FirestoreVector

        query: Any = self._client.collection(collection)
        for flt in where:
            query = query.where(filter=FieldFilter(*_firestore_filter(flt)))
        nearest = query.find_nearest(
            vector_field=field,
            query_vector=FirestoreVector(list(vector)),
            distance_measure=DistanceMeasure.COSINE,
            limit=limit,
            distance_result_field="_distance",
        )
        rows = []
        with _transient_errors():
            for snap in nearest.stream():
                data = from_sdk(snap.to_dict() or {})
                distance = float(data.pop("_distance"))
                rows.append((snap.id, data, distance))
        return rows

    @override
    def delete_collection(self, collection: str) -> int:
        deleted = 0
        with _transient_errors():
            while True:
                snaps = list(self._client.collection(collection).limit(400).stream())
                if not snaps:
                    return deleted
                batch = self._client.batch()
                for snap in snaps:
                    batch.delete(snap.reference)
                batch.commit()
                deleted += len(snaps)
