"""One WebSocket's mechanics: the bearer token from the subprotocol, the fixed stream a
product path names, refusing with a reason, pumping queued events, closing at token expiry, and
the log line per socket. The service's logic is in :mod:`shared.capabilities.realtime.app`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from shared.capabilities.realtime.hub import Connection, Subscription
from shared.core.auth.rbac import Permission
from shared.core.log import get_logger

log = get_logger(__name__)

UNAUTHENTICATED = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404
PROTOCOL = "bearer"
MAX_MESSAGE_BYTES = 16_384


def bearer_token(websocket: WebSocket) -> tuple[str | None, str | None]:
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


@dataclass(frozen=True)
class PathStream:
    """A product path: the subscription it fixes, the permission it needs, and the document that
    must exist in the caller's tenant (None: the tenant itself)."""

    name: str
    subscription: Subscription
    permission: Permission
    subject: tuple[str, str] | None = None  # (collection, id)


def path_stream(websocket: WebSocket) -> PathStream | None:
    """The fixed stream a product path names (None for ``/ws``).

    Raises:
        InvalidInput: the path's id is not a valid id.
    """
    from shared.core.store.base import check_segment

    params = websocket.path_params
    if "workflow_id" in params:
        run = check_segment(params["workflow_id"], field="workflow_id")
        return PathStream(
            f"workflows/{run}",
            Subscription(frozenset({"workflow."}), frozenset({f"workflow_run:{run}"})),
            Permission.WORKFLOWS_READ,
            ("workflow_runs", run),
        )
    if "customer_id" in params:
        customer = check_segment(params["customer_id"], field="customer_id")
        return PathStream(
            f"insights/{customer}",
            Subscription(frozenset({"insight.generated"}), frozenset({f"customer:{customer}"})),
            Permission.INSIGHTS_READ,
            ("customers", customer),
        )
    if websocket.url.path.rstrip("/").endswith("/ws/ai/scoring"):
        return PathStream(
            "scoring", Subscription(frozenset({"lead.score_changed"})), Permission.SCORES_READ
        )
    return None


def socket_log(state: str, stream: str, **fields: Any) -> None:
    """One line per socket opened, closed or refused (terraform/metrics.json: socket_connection)."""
    extra = {"metric": "socket_connection", "state": state, "stream": stream, **fields}
    log.info("socket %s", state, extra={"fields": extra})


async def refuse(websocket: WebSocket, code: int, error: str, reason: str) -> None:
    """Tell the client why in an error message, then close with ``code`` (logged as refused)."""
    socket_log(
        "refused",
        websocket.url.path.split("/")[3] if websocket.url.path.startswith("/ws/ai/") else "ws",
        error=error,
    )
    await websocket.send_json({"type": "error", "error": error, "message": reason})
    await websocket.close(code=code, reason=reason[:120])


async def pump(websocket: WebSocket, connection: Connection) -> None:
    """Send the connection's queued items until the socket closes."""
    try:
        while True:
            item = await connection.queue.get()
            await websocket.send_text(json.dumps(item, default=str))
    except (WebSocketDisconnect, WebSocketDisconnected, OSError):
        # The client went away (the reader sees it too), or this side closed the socket (a token
        # expired) while an item was on its way.
        return
    except Exception:  # a socket's boundary: logged with its traceback, then closed
        # Not the client going away: log it and close, rather than leave a socket open that no
        # longer streams (the client reconnects).
        log.exception("real-time socket failed; closing it")
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
            await websocket.close(code=1011, reason="internal error; reconnect")


async def close_at_expiry(websocket: WebSocket, expires_at: int) -> None:
    """Close the socket when its token expires: a socket is never open longer than its token."""
    await asyncio.sleep(max(0.0, expires_at - time.time()))
    await refuse(websocket, UNAUTHENTICATED, "unauthenticated", "token has expired")
