"""The HTTP edge shared by every HTTP function: routing, authentication, roles, error mapping.

A function's ``main.py`` passes its Flask request and its route table to :func:`dispatch`. Every
route names the permission it needs; there is no unauthenticated route. Errors are mapped to
status codes once, here: an :class:`~shared.errors.AppError` becomes its own status with a JSON
body that names the field; anything else is logged with its traceback and answered 500.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from shared.auth.rbac import require
from shared.errors import AppError, InvalidInput, MethodNotAllowed, NotFound
from shared.log import get_logger, log_context, trace_from_header
from shared.tenancy.scope import TenantStore, tenant_for

if TYPE_CHECKING:
    import flask

    from shared.auth.principal import Principal
    from shared.auth.rbac import Permission
    from shared.auth.tokens import TokenVerifier
    from shared.store.base import DocumentStore

_log = get_logger("http")
Response = tuple[str, int, dict[str, str]]
JSON_HEADERS = {"Content-Type": "application/json"}


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(body: dict[str, Any]) -> str:
    """JSON text with datetimes as ISO 8601 (Flask's default would write RFC 1123 dates)."""
    return json.dumps(body, default=_default)


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    tenant_id: str
    scope: TenantStore
    request: flask.Request
    params: dict[str, str]

    def json_body(self) -> dict[str, Any]:
        body = self.request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidInput("request body must be a JSON object", field="body")
        return body


Handler = Callable[[RequestContext], tuple[dict[str, Any], int]]
# A streaming route's handler validates, then returns the server-sent events to send.
StreamHandler = Callable[[RequestContext], Iterator[str]]


def template_regex(pattern: str) -> re.Pattern[str]:
    """``/a/{id}/b`` as a regex whose named groups capture each ``{param}`` (one path segment)."""
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "/?$")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # e.g. /api/v1/ai/crm/{collection}/{record_id}
    permission: Permission
    handler: Handler | StreamHandler
    stream: bool = False  # the handler returns server-sent events (text/event-stream)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_regex", template_regex(self.pattern)
        )  # compiled once, not per request

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self._regex.match(path)  # type: ignore[attr-defined]
        return found.groupdict() if found else None


def error_response(exc: AppError, request_id: str) -> Response:
    headers = {**JSON_HEADERS, "X-Request-ID": request_id}
    if exc.retryable:
        headers["Retry-After"] = "5"
    return to_json({"error": exc.to_dict(), "request_id": request_id}), exc.status_code, headers


def dispatch(
    request: flask.Request,
    routes: Sequence[Route],
    *,
    verifier: TokenVerifier,
    store: DocumentStore,
    project_id: str,
) -> Response:
    """Authenticate, authorise and run the matching route; map every outcome to a response."""
    request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
    trace = trace_from_header(request.headers.get("X-Cloud-Trace-Context"), project_id)
    with log_context(request_id=request_id, trace=trace, path=request.path, method=request.method):
        try:
            route, params = _find(routes, request.method, request.path)
            principal = verifier.verify(_bearer(request))
            tenant_id = tenant_for(principal, request.headers.get("X-Tenant-ID"))
            with log_context(tenant_id=tenant_id, subject=principal.subject):
                require(principal, route.permission)
                ctx = RequestContext(
                    principal, tenant_id, TenantStore(store, tenant_id), request, params
                )
                if route.stream:
                    events = cast("Iterator[str]", route.handler(ctx))
                    return _event_stream(events, request_id)  # type: ignore[no-any-return]
                body, status = cast("tuple[dict[str, Any], int]", route.handler(ctx))
                return to_json(body), status, {**JSON_HEADERS, "X-Request-ID": request_id}
        except AppError as exc:
            level = (
                _log.warning
                if exc.status_code >= 500 or exc.status_code in (401, 403)
                else _log.info
            )
            level("request refused: %s", exc.message, extra={"fields": {"error_code": exc.code}})
            return error_response(exc, request_id)
        except Exception:  # noqa: BLE001 - the edge: a bug must answer 500 with a request id, not a stack trace
            _log.exception("unhandled error")
            body = {
                "error": {"code": "internal", "message": "internal error"},
                "request_id": request_id,
            }
            return to_json(body), 500, {**JSON_HEADERS, "X-Request-ID": request_id}


def _event_stream(events: Iterator[str], request_id: str) -> Any:
    """A streamed ``text/event-stream`` response; errors after the first event are sent as an
    ``error`` event (the status line has gone already)."""
    import flask

    def guarded() -> Iterator[str]:
        try:
            yield from events
        except AppError as exc:
            yield (
                "event: error\ndata: "
                + to_json({"error": exc.to_dict(), "request_id": request_id})
                + "\n\n"
            )

    return flask.Response(
        flask.stream_with_context(guarded()),
        status=200,
        mimetype="text/event-stream",
        headers={"X-Request-ID": request_id, "Cache-Control": "no-cache"},
    )


def _bearer(request: flask.Request) -> str | None:
    # Behind API Gateway the function is called with the gateway's own identity token, and the
    # caller's token moves to X-Forwarded-Authorization; only the gateway may invoke (IAM).
    return request.headers.get("X-Forwarded-Authorization") or request.headers.get("Authorization")


def _find(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]]:
    allowed = False
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route, params
        if route.match(route.method, path) is not None:
            allowed = True
    if allowed:
        raise MethodNotAllowed(f"method {method} is not allowed on {path}", field="method")
    raise NotFound(f"no route for {method} {path}", field="path")
