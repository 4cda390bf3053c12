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
from starlette.websockets import WebSocket, WebSocketDisconnect

from shared.errors import InvalidInput, Unauthenticated
from shared.log import get_logger
from shared.realtime.hub import Connection, Hub, Subscription, readable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from starlette.requests import Request

    from shared.auth.tokens import TokenVerifier

log = get_logger(__name__)

UNAUTHENTICATED = 4401
FORBIDDEN = 4403
PROTOCOL = "bearer"
MAX_MESSAGE_BYTES = 16_384


def _token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The bearer token and the subprotocol to answer with."""
    offered = [
        p.strip()
        for p in websocket.headers.get("sec-websocket-protocol", "").split(",")
        if p.strip()
    ]
    if PROTOCOL in offered:
        rest = [p for p in offered if p != PROTOCOL]
        return (rest[0] if rest else None), PROTOCOL
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), None
    return None, None


class RealtimeService:
    def __init__(self, hub: Hub, verifier: Callable[[], TokenVerifier]) -> None:
        self.hub = hub
        self._verifier = verifier
        self.intake: Any = None

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
        token, protocol = _token(websocket)
        await websocket.accept(subprotocol=protocol)
        try:
            # In a thread: with a JWKS URL, a key-cache miss fetches the keys over the network.
            principal = await asyncio.to_thread(
                self._verifier().verify, f"Bearer {token}" if token else None
            )
        except Unauthenticated as exc:
            await _refuse(websocket, UNAUTHENTICATED, "unauthenticated", str(exc))
            return
        allowed = readable(principal)
        if principal.is_service or not principal.tenant_id or not allowed:
            await _refuse(
                websocket,
                FORBIDDEN,
                "forbidden",
                "these roles may read no streamed event (a CRM user role is needed)",
            )
            return
        connection = Connection(principal)
        self.hub.add(connection)
        connection.offer(
            {"type": "ready", "tenant_id": principal.tenant_id, "event_types": allowed}
        )
        background = [asyncio.create_task(_pump(websocket, connection))]
        if principal.expires_at is not None:
            background.append(
                asyncio.create_task(_close_at_expiry(websocket, principal.expires_at))
            )
        try:
            await self._read(websocket, connection)
        finally:
            self.hub.remove(connection)
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
            self._handle(connection, text)

    def _handle(self, connection: Connection, text: str) -> None:
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
                self._subscribe(connection, message)
            else:
                raise InvalidInput(
                    f"unknown message type {kind!r} (expected 'subscribe' or 'ping')", field="type"
                )
        except InvalidInput as exc:
            connection.offer({"type": "error", "field": exc.field, "message": str(exc)})

    def _subscribe(self, connection: Connection, message: dict[str, Any]) -> None:
        subscription = Subscription.parse(message, connection.principal)
        last = message.get("last_event_id")
        if last is not None and (not isinstance(last, str) or not last):
            raise InvalidInput("last_event_id must be a non-empty string", field="last_event_id")
        connection.subscription = subscription
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
            missed = self.hub.replay(connection, last)
            if missed is None:
                connection.offer(
                    {"type": "resync", "reason": f"event {last!r} is not among the recent ones"}
                )
            for event in missed or []:
                connection.offer({"type": "event", "event": event})


async def _refuse(websocket: WebSocket, code: int, error: str, reason: str) -> None:
    await websocket.send_json({"type": "error", "error": error, "message": reason})
    await websocket.close(code=code, reason=reason[:120])


async def _pump(websocket: WebSocket, connection: Connection) -> None:
    try:
        while True:
            item = await connection.queue.get()
            await websocket.send_text(json.dumps(item, default=str))
    except (WebSocketDisconnect, OSError):
        return  # the client went away; the reader sees it too
    except Exception:  # a socket's boundary: logged with its traceback, then closed
        # Not the client going away: log it and close, rather than leave a socket open that no
        # longer streams (the client reconnects).
        log.exception("real-time socket failed; closing it")
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
            await websocket.close(code=1011, reason="internal error; reconnect")


async def _close_at_expiry(websocket: WebSocket, expires_at: int) -> None:
    await asyncio.sleep(max(0.0, expires_at - time.time()))
    await _refuse(websocket, UNAUTHENTICATED, "unauthenticated", "token has expired")


def build_app(
    *,
    hub: Hub | None = None,
    verifier: Callable[[], TokenVerifier] | None = None,
    intake: Callable[[Hub], Any] | None = None,
) -> Starlette:
    """The service. ``intake(hub)`` returns an object with ``start(loop)``, ``stop()`` and a
    ``problem`` (None while healthy); the Pub/Sub one by default, tests pass their own."""
    from shared import runtime

    hub = hub or Hub()
    service = RealtimeService(hub, verifier or runtime.token_verifier)

    def pubsub(target: Hub) -> Any:
        from shared.config import get_settings
        from shared.realtime.intake import PubSubIntake

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
        routes=[Route("/health", service.health), WebSocketRoute("/ws", service.stream)],
        lifespan=lifespan,
    )
