"""The durable copy of streamed events, for replay on any instance (issue 16).

Each instance keeps its tenants' recent events in memory (:class:`~shared.capabilities.realtime.hub.Hub`), but
a client that reconnects to another instance, or to one started since, would find nothing there.
So every streamed ``ai-events`` message is also written once to
``tenants/{t}/stream_events/{event_id}`` by the Pub/Sub push subscription ``ai-events-stream``
(one delivery per event, whichever instance gets it, not one write per instance), with
``stored_at`` and an ``expires_at`` that Firestore's TTL policy removes it after
(:data:`WINDOW`). A reconnect asks for the events after its ``last_event_id``: at most
:data:`MAX_REPLAY` of them, within the window; past that the client gets ``resync``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.capabilities.realtime.hub import permission_for
from shared.core.store.base import check_segment
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.core.store.base import DocumentStore

COLLECTION = "stream_events"
WINDOW = timedelta(hours=24)
MAX_REPLAY = 1000


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StreamLog:
    """Streamed events kept in Firestore for a while, so a client reconnecting to any instance gets
    what it missed."""

    def __init__(self, store: DocumentStore, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._store = store
        self._clock = clock

    def record(self, event: dict[str, Any]) -> bool:
        """Keep a streamed event (others are ignored); False when it was already kept (Pub/Sub
        delivers at least once; the first copy's ``stored_at`` keeps its place in the order)."""
        return self.record_many([event])[0]

    def record_many(self, events: list[dict[str, Any]]) -> list[bool]:
        """Keep many streamed events in one batched write (the push endpoint gathers the events
        that arrive together): per event, whether it was kept now (as :meth:`record`)."""
        now = self._clock()
        kept: list[bool] = [False] * len(events)
        items: list[tuple[str, dict[str, Any]]] = []
        at: list[int] = []
        for i, event in enumerate(events):
            if permission_for(event["event_type"]) is None:
                continue
            scope = TenantStore(self._store, event["tenant_id"])
            path = scope.path(COLLECTION, check_segment(event["event_id"], field="event_id"))
            # A microsecond apart, in arrival order, so replay keeps the batch's order.
            stored = now + timedelta(microseconds=len(items))
            items.append((path, {"event": event, "stored_at": stored, "expires_at": now + WINDOW}))
            at.append(i)
        for i, created in zip(at, self._store.create_many(items), strict=True):
            kept[i] = created
        return kept

    def after(self, tenant_id: str, last_event_id: str) -> list[dict[str, Any]] | None:
        """The tenant's events stored after ``last_event_id``, oldest first; None when that event
        is not kept (unknown, or past the window) or more than :data:`MAX_REPLAY` followed it."""
        scope = TenantStore(self._store, tenant_id)
        segment = check_segment(last_event_id, field="last_event_id")  # InvalidInput otherwise
        found = scope.get(scope.path(COLLECTION, segment))
        if found is None or found["stored_at"] < self._clock() - WINDOW:
            return None
        later = scope.query(
            scope.path(COLLECTION),
            where=[("stored_at", ">=", found["stored_at"])],
            order_by="stored_at",
            limit=MAX_REPLAY + 2,
        )
        events = [doc["event"] for _, doc in later if doc["event"]["event_id"] != last_event_id]
        if len(events) > MAX_REPLAY:
            return None
        return events
