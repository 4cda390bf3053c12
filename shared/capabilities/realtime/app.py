"""The real-time WebSocket service (Starlette; deployed from run_services/realtime on Cloud Run).

``GET /health`` says the instance is up. ``WS /ws`` streams the caller's tenant's ``ai-events``:

- authentication: the CRM's JWT, from the ``Sec-WebSocket-Protocol`` header (browsers:
  ``new WebSocket(url, ["bearer", token])``; the service answers with the ``bearer`` protocol),
  or an ``Authorization: Bearer`` header (servers). Never the query string: Cloud Run writes
  request URLs to its logs. A bad or missing token closes with 4401, a token whose roles may read nothing
  streamed with 4403, each with the reason; the socket closes with 4401 when the token expires.
- on connect the server sends ``{"type": "ready", "tenant_id", "event_types"}`` (what the
  caller's roles may read) and streams all of it as ``{"type": "event", "event": {...}}``;
- the client may narrow the stream, and catch up after a reconnect, with
  ``{"type": "subscribe", "event_types": ["workflow.", "lead.score_changed"],
  "entities": ["lead:lead-1"], "last_event_id": "..."}`` (answered with ``subscribed``, the
  missed events, or ``resync`` when they are not known here), and ping with ``{"type": "ping"}``;
- a bad message gets ``{"type": "error", "field", "message"}`` and the socket stays open;
- ``{"type": "resync"}`` means events were lost for this client: re-read state over REST.

The product's paths are the same stream, fixed to one subject (issue 16):

- ``WS /ws/ai/workflows/{workflow_id}``: ``workflow.*`` events of that run (``workflows:read``);
- ``WS /ws/ai/insights/{customer_id}``: ``insight.generated`` for that customer (``insights:read``);
- ``WS /ws/ai/scoring``: ``lead.score_changed`` of the tenant's leads (``scores:read``).

The run or customer must be the caller's tenant's: otherwise the socket closes with 4404 (the
same answer whether it is another tenant's or does not exist); a role without the permission
closes with 4403. On these paths ``subscribe`` takes only ``last_event_id`` (the filter is the
path).

Replay after a reconnect works on any instance: what this instance's memory lacks comes from the
durable copy every streamed event gets (:mod:`shared.capabilities.realtime.durable`, 24 hours, written by the
``ai-events-stream`` push subscription at ``POST /_events``, which checks Pub/Sub's OIDC token);
``resync`` only past that window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from shared.capabilities.realtime.console import console_routes
from shared.capabilities.realtime.hub import Connection, Hub, Subscription, readable
from shared.capabilities.realtime.push import StreamKeeper
from shared.capabilities.realtime.sockets import (
    FORBIDDEN,
    MAX_MESSAGE_BYTES,
    NOT_FOUND,
    UNAUTHENTICATED,
    bearer_token,
    close_at_expiry,
    path_stream,
    pump,
    refuse,
    socket_log,
)
from shared.core.auth.rbac import has_permission
from shared.core.errors import AppError, InvalidInput, Unauthenticated
from shared.core.log import get_logger

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from starlette.requests import Request
    from starlette.websockets import WebSocket

    from shared.capabilities.realtime.durable import StreamLog
    from shared.core.auth.principal import Principal
    from shared.core.auth.tokens import TokenVerifier
    from shared.core.messaging.pubsub import Publisher
    from shared.core.store.base import DocumentStore

log = get_logger(__name__)


class RealtimeService:
    """The WebSocket endpoints' logic: authenticate each socket, check what its principal may read,
    subscribe it to the hub, replay what it missed."""

    def __init__(
        self,
        hub: Hub,
        verifier: Callable[[], TokenVerifier],
        store: Callable[[], DocumentStore] | None = None,
    ) -> None:
        self.hub = hub
        self._verifier = verifier
        self._store = store
        self.intake: Any = None

    def stream_log(self) -> StreamLog | None:
        """The durable copy of streamed events (None when no store was given: no replay beyond
        memory)."""
        from shared.capabilities.realtime.durable import StreamLog

        return StreamLog(self._store()) if self._store is not None else None

    def _exists(self, principal: Principal, subject: tuple[str, str]) -> bool:
        from shared.core.tenancy.scope import TenantStore

        if self._store is None:
            return False
        scope = TenantStore(self._store(), principal.tenant_id or "")
        return scope.get(scope.path(*subject)) is not None

    async def health(self, _: Request) -> JSONResponse:
        """200 while events flow in; 503 once the intake has stopped, so Cloud Run's liveness
        probe replaces the instance instead of leaving its sockets without events. The endpoint
        is public: the reason goes to the log, not to the caller (no subscription path, error
        text or connection count)."""
        problem = getattr(self.intake, "problem", None)
        if problem:
            log.warning("health: failing: %s", problem)
            return JSONResponse({"status": "failing"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def stream(self, websocket: WebSocket) -> None:
        """Serve one socket: token from the subprotocol, path and filters checked against the
        principal's roles, then events pumped until either side closes or the token expires."""
        token, protocol = bearer_token(websocket)
        await websocket.accept(subprotocol=protocol)
        try:
            # In a thread: with a JWKS URL, a key-cache miss fetches the keys over the network.
            principal = await asyncio.to_thread(
                self._verifier().verify, f"Bearer {token}" if token else None
            )
        except Unauthenticated as exc:
            await refuse(websocket, UNAUTHENTICATED, "unauthenticated", str(exc))
            return
        allowed = readable(principal)
        if principal.is_service or not principal.tenant_id or not allowed:
            await refuse(
                websocket,
                FORBIDDEN,
                "forbidden",
                "these roles may read no streamed event (a CRM user role is needed)",
            )
            return
        try:
            fixed = path_stream(websocket)
        except InvalidInput as exc:
            await refuse(websocket, NOT_FOUND, "not_found", exc.message)
            return
        connection = Connection(principal)
        if fixed is not None:
            if not has_permission(principal, fixed.permission):
                reason = f"your roles may not read this stream (needs {fixed.permission.value})"
                await refuse(websocket, FORBIDDEN, "forbidden", reason)
                return
            if fixed.subject is not None and not await asyncio.to_thread(
                self._exists, principal, fixed.subject
            ):
                # The same answer for another tenant's and a missing one: nothing is revealed.
                kind = fixed.subject[0].rstrip("s").replace("_", " ")
                await refuse(websocket, NOT_FOUND, "not_found", f"no such {kind} in your tenant")
                return
            connection.subscription = fixed.subscription
            connection.fixed = fixed.name
            allowed = sorted(fixed.subscription.event_types or [])
        self.hub.add(connection)
        stream = fixed.name.split("/")[0] if fixed is not None else "ws"  # no ids in labels
        socket_log("opened", stream)
        ready: dict[str, Any] = {
            "type": "ready",
            "tenant_id": principal.tenant_id,
            "event_types": allowed,
        }
        if fixed is not None:
            ready["stream"] = fixed.name
        connection.offer(ready)
        background = [asyncio.create_task(pump(websocket, connection))]
        if principal.expires_at is not None:
            background.append(asyncio.create_task(close_at_expiry(websocket, principal.expires_at)))
        try:
            await self._read(websocket, connection)
        finally:
            self.hub.remove(connection)
            socket_log("closed", stream)
            for task in background:
                task.cancel()

    async def _read(self, websocket: WebSocket, connection: Connection) -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                connection.offer(
                    {"type": "error", "field": "message", "message": "send JSON as text frames"}
                )
                continue
            await self._handle(connection, text)

    async def _handle(self, connection: Connection, text: str) -> None:
        """One client message; replies go through the connection's queue, in order."""
        try:
            if len(text.encode()) > MAX_MESSAGE_BYTES:
                raise InvalidInput(
                    f"messages are limited to {MAX_MESSAGE_BYTES} bytes", field="message"
                )
            try:
                message = json.loads(text)
            except ValueError as exc:
                raise InvalidInput(f"not JSON: {exc}", field="message") from exc
            if not isinstance(message, dict):
                raise InvalidInput("a message is a JSON object", field="message")
            kind = message.get("type")
            if kind == "ping":
                connection.offer({"type": "pong", "at": time.time()})
            elif kind == "subscribe":
                await self._subscribe(connection, message)
            else:
                raise InvalidInput(
                    f"unknown message type {kind!r} (expected 'subscribe' or 'ping')", field="type"
                )
        except InvalidInput as exc:
            connection.offer({"type": "error", "field": exc.field, "message": str(exc)})

    async def _subscribe(self, connection: Connection, message: dict[str, Any]) -> None:
        last = message.get("last_event_id")
        if last is not None and (not isinstance(last, str) or not last):
            raise InvalidInput("last_event_id must be a non-empty string", field="last_event_id")
        if connection.fixed is not None:
            for name in ("event_types", "entities"):
                if message.get(name) is not None:
                    raise InvalidInput(
                        f"this path's stream is fixed ({connection.fixed}); send only "
                        "last_event_id, or use /ws to choose filters",
                        field=name,
                    )
        else:
            connection.subscription = Subscription.parse(message, connection.principal)
        subscription = connection.subscription
        connection.offer(
            {
                "type": "subscribed",
                "event_types": sorted(subscription.event_types)
                if subscription.event_types is not None
                else None,
                "entities": sorted(subscription.entities)
                if subscription.entities is not None
                else None,
            }
        )
        if last is not None:
            await self._replay(connection, last)

    async def _replay(self, connection: Connection, last: str) -> None:
        """The events after ``last``: from this instance's memory, else from the durable copy
        (another instance's client, or one started since). Live events arriving meanwhile are
        held, then sent after the replay without repeating any."""
        missed = self.hub.replay(connection, last)
        if missed is None:
            stream_log = self.stream_log()
            connection.hold = []
            try:
                stored = (
                    await asyncio.to_thread(stream_log.after, connection.tenant_id, last)
                    if stream_log is not None
                    else None
                )
            except AppError as exc:
                if isinstance(exc, InvalidInput):
                    raise
                # The durable copy is unreachable: the client re-reads state instead.
                log.warning("replay from the durable copy failed: %s", exc.message)
                stored = None
            finally:
                held, connection.hold = connection.hold, None
            if stored is not None:
                missed = [
                    e
                    for e in stored
                    if connection.may_read(e) and connection.subscription.matches(e)
                ]
            sent = {e["event_id"] for e in missed or []}
            missed = (missed or []) + [e for e in held if e["event_id"] not in sent]
            if stored is None:
                connection.offer(
                    {"type": "resync", "reason": f"event {last!r} is not among the recent ones"}
                )
                log.info(
                    "socket resync",
                    extra={"fields": {"metric": "socket_resync", "reason": "window"}},
                )
        for event in missed:
            connection.offer({"type": "event", "event": event})


def build_app(
    *,
    verifier: Callable[[], TokenVerifier],
    store: Callable[[], DocumentStore],
    publisher: Callable[[], Publisher],
    hub: Hub | None = None,
    intake: Callable[[Hub], Any] | None = None,
) -> Starlette:
    """The service, on clients the edge gives (``shared/edge/realtime.py``), each a getter so
    nothing is built before first use. ``intake(hub)`` returns an object with ``start(loop)``,
    ``stop()`` and a ``problem`` (None while healthy); the Pub/Sub one by default, tests pass
    their own. ``store`` holds the durable copy of events and the runs and customers the paths
    check; ``publisher`` dead-letters a pushed event that can never be kept."""
    hub = hub or Hub()
    service = RealtimeService(hub, verifier, store)

    def pubsub(target: Hub) -> Any:
        from shared.capabilities.realtime.intake import PubSubIntake
        from shared.core.config import get_settings

        return PubSubIntake.from_settings(get_settings(), target.dispatch)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        source = (intake or pubsub)(hub)
        service.intake = source
        await asyncio.to_thread(source.start, asyncio.get_running_loop())
        try:
            yield
        finally:
            await asyncio.to_thread(source.stop)

    return Starlette(
        routes=[
            Route("/health", service.health),
            Route("/_events", StreamKeeper(service.stream_log, publisher).events, methods=["POST"]),
            WebSocketRoute("/ws", service.stream),
            WebSocketRoute("/ws/ai/workflows/{workflow_id}", service.stream),
            WebSocketRoute("/ws/ai/insights/{customer_id}", service.stream),
            WebSocketRoute("/ws/ai/scoring", service.stream),
            *console_routes(),
        ],
        lifespan=lifespan,
    )
