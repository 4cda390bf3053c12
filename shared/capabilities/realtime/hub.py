"""Fan-out of ``ai-events`` to the WebSocket connections of one service instance.

Every event carries the envelope all units publish (``event_id``, ``event_type``, ``tenant_id``,
``entity_type``, ``entity_id``, ``data``). The hub delivers an event only to connections of the
event's tenant whose principal may read that kind of event (:data:`STREAMED`) and whose
subscription matches it. Event types not in :data:`STREAMED` (internal follow-ups such as
``lead.scoring_requested``) are never streamed.

Each connection has a bounded queue: a client that does not keep up loses its queued events and
receives one ``resync`` notice instead (it should re-read state over REST), so a slow browser
never holds up the others. The hub keeps each tenant's recent events (``RECENT_EVENTS``, at most
``RECENT_SECONDS`` old) so a client that reconnects with ``last_event_id`` gets what it missed, or
a ``resync`` when that is no longer known here (another instance, or too long ago). Pub/Sub
delivers at least once: an event id seen recently is not delivered twice.

Everything runs on one asyncio loop; :meth:`Hub.dispatch` is called on it (the Pub/Sub intake
hands events over with ``call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.core.auth.rbac import Permission, has_permission
from shared.core.errors import InvalidInput
from shared.core.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.core.auth.principal import Principal

log = get_logger(__name__)

# Event type (or prefix ending in ".") -> the permission a reader needs.
STREAMED: dict[str, Permission] = {
    "workflow.": Permission.WORKFLOWS_READ,
    "lead.score_changed": Permission.SCORES_READ,
    "insight.generated": Permission.INSIGHTS_READ,
    "scoring.drift_detected": Permission.MODELS_MANAGE,
    "llm.budget_threshold_reached": Permission.USAGE_READ,
}
RECENT_EVENTS = 500
RECENT_SECONDS = 900.0
QUEUE_SIZE = 256
MAX_FILTERS = 100


def covers(pattern: str, event_type: str) -> bool:
    """An event type matches itself, and a prefix ending in "." matches the types under it."""
    return event_type == pattern or (pattern.endswith(".") and event_type.startswith(pattern))


def permission_for(event_type: str) -> Permission | None:
    """What a reader needs to see ``event_type``; None if it is never streamed."""
    for pattern, permission in STREAMED.items():
        if covers(pattern, event_type):
            return permission
    return None


def readable(principal: Principal) -> list[str]:
    """The streamed event types (and prefixes) ``principal`` may read."""
    return [pattern for pattern, perm in STREAMED.items() if has_permission(principal, perm)]


@dataclass
class Subscription:
    """Which events a connection wants: event types or prefixes ("workflow."), and entities
    ("lead:lead-1", "workflow_run:run-7", "customer:c-3"); None means all."""

    event_types: frozenset[str] | None = None
    entities: frozenset[str] | None = None

    @classmethod
    def parse(cls, message: dict[str, Any], principal: Principal) -> Subscription:
        """A ``subscribe`` message's filters.

        Raises:
            InvalidInput: a filter is not a list of strings, names an event type that is never
                streamed or one the principal may not read, or lists too many entries.
        """
        types = _strings(message, "event_types")
        for wanted in types or []:
            permission = STREAMED.get(wanted) or permission_for(wanted)
            if permission is None:
                raise InvalidInput(
                    f"{wanted!r} is not a streamed event type (streamed: {', '.join(STREAMED)})",
                    field="event_types",
                )
            if not has_permission(principal, permission):
                raise InvalidInput(
                    f"your roles may not read {wanted!r} (needs {permission.value})",
                    field="event_types",
                )
        entities = _strings(message, "entities")
        for entity in entities or []:
            kind, _, ident = entity.partition(":")
            if not kind or not ident:
                raise InvalidInput(
                    f"{entity!r} is not 'entity_type:entity_id' (e.g. 'lead:lead-1')",
                    field="entities",
                )
        return cls(
            frozenset(types) if types is not None else None,
            frozenset(entities) if entities is not None else None,
        )

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether ``event`` is of a subscribed type and entity."""
        kind = event["event_type"]
        if self.event_types is not None and not any(covers(t, kind) for t in self.event_types):
            return False
        if self.entities is not None:
            entity = f"{event.get('entity_type')}:{event.get('entity_id')}"
            return entity in self.entities
        return True


def _strings(message: dict[str, Any], name: str) -> list[str] | None:
    value = message.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInput(f"{name} must be a list of non-empty strings", field=name)
    if len(value) > MAX_FILTERS:
        raise InvalidInput(f"{name} may list at most {MAX_FILTERS} entries", field=name)
    return value


@dataclass(eq=False)
class Connection:
    """One WebSocket's side of the hub: who it is, what it wants, what waits to be sent."""

    principal: Principal
    subscription: Subscription = field(default_factory=Subscription)
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE)
    )
    dropped: int = 0
    fixed: str | None = None  # the product path's stream ("workflows/run-1"), None on /ws
    hold: list[dict[str, Any]] | None = None  # live events held while a replay is read

    @property
    def tenant_id(self) -> str:
        """The tenant this socket belongs to (events of other tenants never reach it)."""
        return self.principal.tenant_id or ""

    def may_read(self, event: dict[str, Any]) -> bool:
        """Whether the socket's roles allow reading this kind of event."""
        permission = permission_for(event["event_type"])
        return permission is not None and has_permission(self.principal, permission)

    def offer(self, item: dict[str, Any]) -> None:
        """Queue ``item`` for sending; a full queue is emptied and replaced by a resync notice."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += self.queue.qsize()
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(
                {"type": "resync", "reason": "events were dropped: this client fell behind"}
            )
            fields = {"metric": "socket_resync", "reason": "fell_behind"}
            log.info("socket resync", extra={"fields": fields})


class Hub:
    """This instance's sockets by tenant, and the recent events for replay: every event is offered
    to the matching sockets of its tenant."""

    def __init__(
        self,
        *,
        recent_events: int = RECENT_EVENTS,
        recent_seconds: float = RECENT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._connections: dict[str, set[Connection]] = {}
        self._recent: dict[str, deque[tuple[float, dict[str, Any]]]] = {}
        self._recent_size = recent_events
        self._recent_seconds = recent_seconds
        self._swept = float("-inf")
        self.counters = {"received": 0, "delivered": 0, "duplicates": 0, "invalid": 0}

    def add(self, connection: Connection) -> None:
        """Start delivering to ``connection``."""
        self._connections.setdefault(connection.tenant_id, set()).add(connection)

    def remove(self, connection: Connection) -> None:
        """Stop delivering to ``connection`` (closed or refused)."""
        tenant = self._connections.get(connection.tenant_id)
        if tenant is not None:
            tenant.discard(connection)
            if not tenant:
                del self._connections[connection.tenant_id]

    @property
    def connection_count(self) -> int:
        """Open sockets on this instance (health and metrics)."""
        return sum(len(c) for c in self._connections.values())

    def dispatch(self, event: Any) -> int:
        """Deliver ``event`` to every matching connection; returns how many got it. An event
        without the envelope's fields is counted and logged (there is no caller to tell)."""
        problem = envelope_problem(event)
        if problem:
            self.counters["invalid"] += 1
            log.warning(
                "ai-event not streamed: %s",
                problem,
                extra={"fields": {"event_id": str(event.get("event_id", ""))[:200]}}
                if isinstance(event, dict)
                else None,
            )
            return 0
        self.counters["received"] += 1
        if permission_for(event["event_type"]) is None:
            return 0
        tenant = event["tenant_id"]
        now = self._clock()
        self._forget_before(now - self._recent_seconds, tenant)
        recent = self._recent.setdefault(tenant, deque(maxlen=self._recent_size))
        if any(seen["event_id"] == event["event_id"] for _, seen in recent):
            self.counters["duplicates"] += 1
            return 0
        recent.append((now, event))
        delivered = 0
        for connection in self._connections.get(tenant, ()):
            if connection.may_read(event) and connection.subscription.matches(event):
                if connection.hold is not None:
                    connection.hold.append(event)
                else:
                    connection.offer({"type": "event", "event": event})
                delivered += 1
        self.counters["delivered"] += delivered
        return delivered

    def _forget_before(self, horizon: float, tenant: str) -> None:
        """Drop events past the replay window: this tenant's now, every tenant's once a minute
        (an instance serving many tenants must not keep 500 events for each forever)."""
        recent = self._recent.get(tenant)
        while recent and recent[0][0] < horizon:
            recent.popleft()
        if horizon - self._swept < 60:
            return
        self._swept = horizon
        for name in list(self._recent):
            old = self._recent[name]
            while old and old[0][0] < horizon:
                old.popleft()
            if not old:
                del self._recent[name]

    def replay(self, connection: Connection, last_event_id: str) -> list[dict[str, Any]] | None:
        """The events after ``last_event_id`` this connection may see, or None when that event is
        not among the recent ones here (the client should resync)."""
        recent = self._recent.get(connection.tenant_id, deque())
        horizon = self._clock() - self._recent_seconds
        events = [event for at, event in recent if at >= horizon]
        ids = [event["event_id"] for event in events]
        if last_event_id not in ids:
            return None
        later = events[ids.index(last_event_id) + 1 :]
        return [e for e in later if connection.may_read(e) and connection.subscription.matches(e)]


def envelope_problem(event: Any) -> str | None:
    """Why ``event`` cannot be streamed (not an object, a missing id, type or tenant), or None when
    it can."""
    if not isinstance(event, dict):
        return "the message is not a JSON object"
    for name in ("event_id", "event_type", "tenant_id"):
        if not isinstance(event.get(name), str) or not event[name]:
            return f"field {name!r} is missing or not a non-empty string"
    return None
