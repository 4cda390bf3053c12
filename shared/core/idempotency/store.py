"""Idempotency records: run a piece of work at most once per key, and replay its result.

A record moves ``in_progress`` (a lock that expires, so a crashed worker does not block the key
for ever) -> ``completed`` (the stored result, kept until ``expires_at``; Firestore's TTL policy on
that field removes it). A duplicate that arrives while the first is running gets
:class:`~shared.core.errors.InProgress` (retryable: the platform delivers again later); the same key
with a different payload gets :class:`~shared.core.errors.PayloadMismatch`.

The store works on any tenant-scoped document store, so the Firestore-backed and the in-memory
variants share this logic and the conformance suite holds both to it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.core.errors import Conflict, InProgress, PayloadMismatch

if TYPE_CHECKING:
    from shared.core.tenancy.scope import TenantStore

COLLECTION = "idempotency"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"


def payload_hash(payload: Any) -> str:
    """A stable hash of a JSON-like payload (key order does not matter)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Started:
    """The caller holds the lock and must call ``complete`` or ``release`` with ``token``."""

    token: str


@dataclass(frozen=True)
class Replayed:
    """The work was done before; ``result`` is what it returned."""

    result: Any


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IdempotencyStore:
    """At-most-once records per tenant: a lock with an expiry while work runs, then the stored
    result, checked against the request's hash so a different request under the same key is
    refused."""

    def __init__(
        self,
        scope: TenantStore,
        *,
        lock_ttl: timedelta = timedelta(minutes=5),
        result_ttl: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._scope = scope
        self._lock_ttl = lock_ttl
        self._result_ttl = result_ttl
        self._clock = clock

    def _path(self, key: str) -> str:
        # Keys come from callers (headers, message ids): hash them into a safe document id.
        return self._scope.path(COLLECTION, hashlib.sha256(key.encode()).hexdigest())

    def begin(self, key: str, request_hash: str) -> Started | Replayed:
        """Take the lock for ``key`` or replay its completed result.

        Raises:
            InProgress: another worker holds an unexpired lock for the same payload.
            PayloadMismatch: the key was used before with a different payload.
        """

        def _begin(tx: Any) -> Started | Replayed:
            return self.begin_in(tx, self.read_in(tx, key), key, request_hash)

        result: Started | Replayed = self._scope.run_transaction(_begin)
        return result

    def read_in(self, tx: Any, key: str) -> dict[str, Any] | None:
        """Read ``key``'s record inside a caller's transaction (reads come before writes)."""
        record: dict[str, Any] | None = tx.get(self._path(key))
        return record

    def begin_in(
        self, tx: Any, record: dict[str, Any] | None, key: str, request_hash: str
    ) -> Started | Replayed:
        """:meth:`begin` inside a caller's transaction, given the record :meth:`read_in` returned,
        so the lock can be taken atomically with the work's own first writes."""
        now = self._clock()
        if record is not None:
            if record["payload_hash"] != request_hash:
                raise PayloadMismatch(
                    "this idempotency key was already used with a different payload",
                    field="Idempotency-Key",
                )
            if record["state"] == COMPLETED:
                return Replayed(record.get("result"))
            if record["locked_until"] > now:
                raise InProgress("the same request is being processed; retry later")
        token = uuid.uuid4().hex
        tx.set(
            self._path(key),
            {
                "key": key,
                "state": IN_PROGRESS,
                "payload_hash": request_hash,
                "token": token,
                "locked_until": now + self._lock_ttl,
                "expires_at": now + self._result_ttl,
                "updated_at": now,
            },
        )
        return Started(token)

    def complete(self, key: str, token: str, result: Any) -> None:
        """Store ``result`` as the outcome of ``key``.

        Raises:
            Conflict: the lock was lost (it expired and another worker took or finished the key).
        """
        path = self._path(key)
        now = self._clock()

        def _complete(tx: Any) -> None:
            record = tx.get(path)
            if record is None or record.get("token") != token or record["state"] != IN_PROGRESS:
                raise Conflict("the idempotency lock was lost before the work completed")
            tx.set(
                path,
                {
                    **record,
                    "state": COMPLETED,
                    "result": result,
                    "expires_at": now + self._result_ttl,
                    "updated_at": now,
                },
            )

        self._scope.run_transaction(_complete)

    def release(self, key: str, token: str) -> None:
        """Give up the lock after a failure so that a retry can start at once."""
        path = self._path(key)

        def _release(tx: Any) -> None:
            record = tx.get(path)
            if (
                record is not None
                and record.get("token") == token
                and record["state"] == IN_PROGRESS
            ):
                tx.delete(path)

        self._scope.run_transaction(_release)
