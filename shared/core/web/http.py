"""The HTTP edge shared by every HTTP function: routing, authentication, roles, validation,
error mapping.

A function's ``main.py`` passes its Flask request and its route table to :func:`dispatch`. Every
route names the permission it needs; there is no unauthenticated route. Each route also names the
pydantic models of its path, query and body (:mod:`shared.core.web.contract`): the edge refuses a body
over the route's size limit (413) and validates the rest before the handler runs, so a handler
gets typed objects, and a validation error becomes 400 naming the field (``leads[3].lead_id``).
Errors are mapped to status codes once, here: an :class:`~shared.core.errors.AppError` becomes its own
status with a JSON body that names the field; anything else is logged with its traceback and
answered 500. The same route objects generate the OpenAPI document (``devstack/openapi.py``).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from pydantic import BaseModel, create_model

from shared.core import tracing
from shared.core.auth.rbac import require
from shared.core.errors import (
    AppError,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    Unprocessable,
)
from shared.core.log import get_logger, log_context
from shared.core.store import counting
from shared.core.tenancy.scope import TenantStore, tenant_for
from shared.core.web.contract import DEFAULT_MAX_BODY, Id
from shared.core.web.validation import (
    check_idempotency_key,
    parse_body,
    parse_query,
    read_body,
    validated_path,
)

if TYPE_CHECKING:
    import flask

    from shared.core.auth.principal import Principal
    from shared.core.auth.rbac import Permission
    from shared.core.auth.tokens import TokenVerifier
    from shared.core.store.base import DocumentStore

_log = get_logger("http")
Response = tuple[str, int, dict[str, str]]
JSON_HEADERS = {"Content-Type": "application/json"}
M = TypeVar("M", bound=BaseModel)
S = TypeVar("S")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(body: dict[str, Any] | BaseModel) -> str:
    """JSON text with datetimes as ISO 8601 (Flask's default would write RFC 1123 dates)."""
    if isinstance(body, BaseModel):
        return body.model_dump_json(by_alias=True)  # the wire names ("from", not from_)
    return json.dumps(body, default=_default)


@dataclass(frozen=True)
class RequestContext(Generic[S]):
    """One authenticated request, validated against its route's models, with the clients the
    edge handed down (``services``: the process's :class:`~shared.edge.services.Services`)."""

    principal: Principal
    tenant_id: str
    scope: TenantStore
    request: flask.Request
    params: dict[str, str]
    services: S
    body_model: BaseModel | None = None
    query_model: BaseModel | None = None

    def body(self, model: type[M]) -> M:
        """The validated body, as the route's declared ``model``."""
        return _as(self.body_model, model)

    def query(self, model: type[M]) -> M:
        """The validated query parameters, as the route's declared ``model``."""
        return _as(self.query_model, model)


def _as(value: BaseModel | None, model: type[M]) -> M:
    if not isinstance(value, model):  # a route table bug, not the caller's
        raise TypeError(f"the route declares no {model.__name__}")
    return value


# A handler answers its route's declared response model (checked per request, and for every
# route table by tests/unit/test_routes.py) and the status.
Handler = Callable[[RequestContext[Any]], tuple[BaseModel, int]]
# A streaming route's handler validates, then returns the server-sent events to send.
StreamHandler = Callable[[RequestContext[Any]], Iterator[str]]


def template_regex(pattern: str) -> re.Pattern[str]:
    """``/a/{id}/b`` as a regex whose named groups capture each ``{param}`` (one path segment)."""
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "/?$")


@dataclass(frozen=True)
class Route:
    """One operation: method and path template, the permission it needs, its handler, and the
    models of its path, query, body and successful response (the contract the spec shows)."""

    method: str
    pattern: str  # e.g. /api/v1/ai/crm/{collection}/{record_id}
    permission: Permission
    handler: Handler | StreamHandler
    stream: bool = False  # the handler returns server-sent events (text/event-stream)
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path: type[BaseModel] | None = None  # default: every {param} is an Id
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()  # statuses beyond the ones every operation may answer
    max_body: int = DEFAULT_MAX_BODY
    idempotent: bool = False  # takes an Idempotency-Key header
    events: tuple[tuple[str, type[BaseModel]], ...] = ()  # a stream's event names and payloads
    # OpenAPI links from the success response: operationId => {parameter: runtime expression}.
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _path_model: type[BaseModel] | None = field(init=False, default=None, compare=False)

    def __post_init__(self) -> None:
        # Compiled once, not per request.
        object.__setattr__(self, "_regex", template_regex(self.pattern))

    @property
    def path_model(self) -> type[BaseModel]:
        """The path parameters' model: the declared one, or every ``{param}`` an Id (built on
        first use, not at import: cold starts)."""
        if self._path_model is None:
            names = re.findall(r"\{(\w+)\}", self.pattern)
            model = self.path or create_model(  # type: ignore[call-overload]
                "PathParams", __config__={"strict": True}, **{n: (Id, ...) for n in names}
            )
            object.__setattr__(self, "_path_model", model)
        return self._path_model  # type: ignore[return-value]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when ``method`` and ``path`` are this route's, else None."""
        if method != self.method:
            return None
        found = self._regex.match(path)
        return found.groupdict() if found else None


def error_response(exc: AppError, request_id: str) -> Response:
    """``exc`` as the JSON error response every route answers with (``Retry-After`` on a retryable
    one)."""
    headers = {**JSON_HEADERS, "X-Request-ID": request_id}
    if exc.retryable:
        headers["Retry-After"] = "5"
    if isinstance(exc, MethodNotAllowed):
        headers["Allow"] = ", ".join(exc.details.get("allowed", []))
    return to_json({"error": exc.to_dict(), "request_id": request_id}), exc.status_code, headers


# What a browser on an allowed origin (the console, the CRM's web app) may send and read.
CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-ID, X-Tenant-ID"
CORS_EXPOSE_HEADERS = "X-Request-ID, Retry-After, Allow"


def with_cors(
    request: flask.Request,
    routes: Sequence[Route],
    origins: frozenset[str],
    serve: Callable[[], Response],
) -> Response:
    """Cross-origin access for browsers on ``origins`` (``CORS_ORIGINS``): a preflight
    ``OPTIONS`` is answered here, before authentication (a browser sends it without the token),
    with the methods the path has; any other request is ``serve()``d and, for an allowed
    origin, marked readable by it. Another origin gets no CORS headers, so its browser refuses
    to read the answer (the API's own checks are unchanged either way)."""
    origin = request.headers.get("Origin")
    allowed = origin is not None and origin in origins
    if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
        methods = sorted({r.method for r in routes if r.match(r.method, request.path) is not None})
        if not methods:
            return error_response(NotFound(f"no route for {request.path}", field="path"), "")
        headers = {"Vary": "Origin"}
        if allowed and origin is not None:
            headers |= {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ", ".join(methods),
                "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
                "Access-Control-Max-Age": "600",
            }
        return "", 204, headers
    response = serve()
    if allowed and origin is not None:
        extra = {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS,
            "Vary": "Origin",
        }
        if isinstance(response, tuple):
            return response[0], response[1], {**response[2], **extra}
        cast("Any", response).headers.update(extra)  # a streamed flask.Response (chat)
    return response


def dispatch(
    request: flask.Request,
    routes: Sequence[Route],
    *,
    verifier: TokenVerifier,
    store: DocumentStore,
    services: object = None,
    after: Callable[[], None] | None = None,
) -> Response:
    """Authenticate, authorise, validate and run the matching route; map every outcome to a
    response. Handlers get ``services`` on their context (``ctx.services``). ``after`` runs once
    a (non-streamed) handler succeeded, before the answer: the process's writes behind land
    first, and a failure among them answers as that error."""
    request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
    started = time.perf_counter()
    with (
        tracing.span(f"{request.method} api", incoming=request.headers, kind="server") as span,
        log_context(request_id=request_id, path=request.path, method=request.method),
    ):
        served: dict[str, Any] = {"route": "unmatched"}
        with counting.measure() as ops:
            response = _serve(
                request, routes, (verifier, store, services), request_id, span, served, after
            )
        status = response[1] if isinstance(response, tuple) else response.status_code
        # One line per request: the API's availability and latency by route (terraform/metrics.json).
        fields = {
            "metric": "api_request",
            "route": f"{request.method} {served['route']}",
            "status": status,
            "status_class": f"{status // 100}xx",
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if ops:  # counted only with STORE_OP_COUNTS (benchmarks)
            fields |= counting.fields(ops)
        _log.info("request served", extra={"fields": fields})
        return response


def _serve(
    request: flask.Request,
    routes: Sequence[Route],
    given: tuple[TokenVerifier, DocumentStore, object],
    request_id: str,
    span: Any,
    served: dict[str, Any],
    after: Callable[[], None] | None = None,
) -> Response:
    """:func:`dispatch`'s work inside the request's span; ``served["route"]`` gets the matched
    route's pattern for the request's log line. ``given``: the verifier, store and services."""
    verifier, store, services = given
    try:
        route, params = _find(routes, request.method, request.path)
        served["route"] = route.pattern
        span.update_name(f"{request.method} {route.pattern}")
        span.set_attribute("http.route", route.pattern)
        raw = read_body(request, route.max_body) if route.body is not None else b""
        principal = verifier.verify(_bearer(request))  # before anything about the request
        if route.idempotent:
            check_idempotency_key(request.headers.get("Idempotency-Key"))
        tenant_id = tenant_for(principal, request.headers.get("X-Tenant-ID"))
        with log_context(tenant_id=tenant_id, subject=principal.subject):
            require(principal, route.permission)
            ctx = RequestContext(
                principal,
                tenant_id,
                TenantStore(store, tenant_id),
                request,
                validated_path(route.path_model, params),
                services,
                body_model=parse_body(route.body, raw) if route.body is not None else None,
                query_model=parse_query(route.query, request) if route.query else None,
            )
            try:
                result = route.handler(ctx)
            except InvalidInput as exc:
                if isinstance(exc, Unprocessable):
                    raise
                # The schema held (checked above); what the handler refuses is a rule.
                raise Unprocessable(exc.message, field=exc.field, **exc.details) from exc
            if route.stream:
                events = cast("Iterator[str]", result)
                return _event_stream(events, request_id)  # type: ignore[no-any-return]
            body, status = cast("tuple[BaseModel, int]", result)
            if route.response is not None and not isinstance(body, route.response):
                # A route table bug, not the caller's: answered 500 and logged below.
                raise TypeError(f"{route.pattern} answered {type(body).__name__}")
            if after is not None:
                after()  # writes behind (usage records) land before the answer
            return to_json(body), status, {**JSON_HEADERS, "X-Request-ID": request_id}
    except AppError as exc:
        level = (
            _log.warning if exc.status_code >= 500 or exc.status_code in (401, 403) else _log.info
        )
        fields: dict[str, Any] = {"error_code": exc.code}
        if exc.status_code == 401:
            # Counted with the other security events (terraform/metrics.json: security_events).
            fields["security_event"] = "authentication_failed"
        level("request refused: %s", exc.message, extra={"fields": fields})
        return error_response(exc, request_id)
    except Exception:  # noqa: BLE001 - the edge: a bug must answer 500 with a request id, not a stack trace
        _log.exception("unhandled error")
        internal = {
            "error": {"code": "internal", "message": "internal error"},
            "request_id": request_id,
        }
        return to_json(internal), 500, {**JSON_HEADERS, "X-Request-ID": request_id}


def _event_stream(events: Iterator[str], request_id: str) -> Any:
    """A streamed ``text/event-stream`` response; errors after the first event are sent as an
    ``error`` event (the status line has gone already)."""
    import flask

    carried = tracing.carry(events)  # now, inside the request: its trace and log fields

    def guarded() -> Iterator[str]:
        try:
            yield from carried
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
    """The route for ``method`` on ``path``. A literal segment wins over a parameter, so
    ``/knowledge/search`` is only ever the search, never the document called "search"."""
    found = [(r, p) for r in routes if (p := r.match(r.method, path)) is not None]
    if not found:
        raise NotFound(f"no route for {method} {path}", field="path")
    fewest = min(len(p) for _, p in found)
    found = [(r, p) for r, p in found if len(p) == fewest]
    for route, params in found:
        if route.method == method:
            return route, params
    raise MethodNotAllowed(
        f"method {method} is not allowed on {path}",
        field="method",
        allowed=sorted({r.method for r, _ in found}),
    )
