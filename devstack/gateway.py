"""The local stand-in for API Gateway: routes ``/api/v1/ai/...`` to the function processes.

It routes by ``api/openapi.json`` (each operation's ``x-function``), the document API Gateway's
Swagger 2.0 config is generated beside (``devstack/openapi.py``), and refuses what API Gateway
would never pass on: a body over the operation's ``x-max-body-bytes`` (413) and a path with
control characters (400), with the API's error shape. It serves the spec at ``GET /openapi.json``
and an interactive page at ``GET /docs`` (Swagger UI from the ``swagger-ui-py`` package, served
from here, never a CDN). ``GET /health`` answers 200 with each component's status, 503 if any
is down.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import socket
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from devstack.topology import OPENAPI, route_regex
from shared.core.web.contract import DEFAULT_MAX_BODY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "host",
    "content-length",
}


def _function_urls() -> dict[str, str]:
    raw = os.environ.get("LOCAL_FUNCTION_URLS", "")
    return dict(item.split("=", 1) for item in raw.split(",") if item)


async def _tcp_ok(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    loop = asyncio.get_running_loop()

    def probe() -> bool:
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex((host, int(port))) == 0

    return await loop.run_in_executor(None, probe)


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CRM AI engine API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><main id="swagger-ui"></main>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""
DOCS_INIT = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, persistAuthorization: true});
"""


def _swagger_assets() -> Path:
    # Located, not imported: the package's own module pulls in Jinja2 for handlers we do not use.
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (requirements/dev.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _error(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    if status == 503:
        headers = {**(headers or {}), "Retry-After": "5"}
    body = {"error": error, "request_id": uuid.uuid4().hex}
    return JSONResponse(body, status, headers=headers)


def load_operations() -> list[tuple[str, Any, str, int]]:
    """(method, path regex, function, body limit) of every operation in the OpenAPI document."""
    spec = json.loads(OPENAPI.read_text())
    return [
        (
            method.upper(),
            route_regex(path),
            op["x-function"],
            op.get("x-max-body-bytes", DEFAULT_MAX_BODY),
        )
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    ]


async def _components(functions: dict[str, str]) -> dict[str, Any]:
    """Whether each emulator, the simulator and each function accepts connections."""
    components: dict[str, Any] = {}
    for name, var in (
        ("firestore", "FIRESTORE_EMULATOR_HOST"),
        ("pubsub", "PUBSUB_EMULATOR_HOST"),
        ("cloud_tasks", "CLOUD_TASKS_EMULATOR_HOST"),
        ("bigquery", "BIGQUERY_EMULATOR_HOST"),
    ):
        address = os.environ.get(var)
        components[name] = {
            "address": address,
            "ok": bool(address) and await _tcp_ok(address or ""),
        }
    simulator = os.environ.get("LLM_SIMULATOR_URL")
    if simulator:
        reachable = await _tcp_ok(simulator.removeprefix("http://"))
        components["llm_simulator"] = {"url": simulator, "ok": reachable}
    for name, url in functions.items():
        components[f"function:{name}"] = {
            "url": url,
            "ok": await _tcp_ok(url.removeprefix("http://")),
        }
    return components


def _resolve(
    table: list[tuple[str, Any, str, int]], request: Request, path: str
) -> tuple[str, int] | Response:
    """The function serving ``request`` and its body limit, or the 400, 404 or 405 to answer."""
    decoded = request.scope["path"]  # url.path may keep escapes such as %0A
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
        return _error(400, "invalid_input", "the path holds control characters", "path")
    candidates = [(m, fn, limit, rx.groups) for m, rx, fn, limit in table if rx.match(path)]
    if not candidates:
        return _error(404, "not_found", f"no route for {path}", "path")
    # A literal segment wins over a parameter (/knowledge/search is not document "search").
    fewest = min(groups for *_, groups in candidates)
    matches = [(m, fn, limit) for m, fn, limit, groups in candidates if groups == fewest]
    found = next(((fn, limit) for m, fn, limit in matches if m == request.method), None)
    preflight = "access-control-request-method" in request.headers
    if found is None and request.method == "OPTIONS" and preflight and matches:
        # A CORS preflight goes to the path's function, which answers it (as API Gateway
        # passes the OPTIONS operations devstack/openapi.py declares in Swagger 2.0).
        found = (matches[0][1], 0)
    if found is None:
        msg = f"method {request.method} is not allowed on {path}"
        allow = ", ".join(sorted({m for m, _, _ in matches}))
        return _error(405, "method_not_allowed", msg, "method", {"Allow": allow})
    return found


async def _body(request: Request, limit: int) -> bytes | Response:
    """The request's body, or a 413 as soon as it passes ``limit`` bytes."""
    content = bytearray()
    async for piece in request.stream():
        content += piece
        if len(content) > limit:
            msg = f"the body may hold at most {limit} bytes"
            return _error(413, "payload_too_large", msg, "body")
    return bytes(content)


def build_app() -> Starlette:
    functions = _function_urls()
    table = load_operations()
    spec_text = OPENAPI.read_text()
    # Idle connections to a function are dropped after 1 s, before gunicorn's own keep-alive
    # timeout (2 s) closes them: reusing one the server is closing at that moment lost requests
    # under concurrent polling ("Server disconnected without sending a response", issue 15).
    client = httpx.AsyncClient(timeout=300, limits=httpx.Limits(keepalive_expiry=1.0))

    async def health(request: Request) -> Response:
        components = await _components(functions)
        ok = all(c["ok"] for c in components.values())
        return JSONResponse(
            {"status": "ok" if ok else "degraded", "components": components}, 200 if ok else 503
        )

    async def proxy(request: Request) -> Response:
        path = request.url.path
        found = _resolve(table, request, path)
        if isinstance(found, Response):
            return found
        target, limit = found
        content = await _body(request, limit)
        if isinstance(content, Response):
            return content
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            upstream = await client.send(
                client.build_request(
                    request.method,
                    functions[target] + path,
                    params=request.query_params,
                    headers=headers,
                    content=content,
                ),
                stream=True,  # server-sent events (chat) pass through as they come
            )
        except httpx.TransportError as exc:
            # The function's process is down or restarting: the cloud answers 503 too.
            return _error(503, "unavailable", f"{target} is not reachable ({type(exc).__name__})")
        out_headers = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in _HOP_BY_HOP | {"content-encoding"}
        }

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for piece in upstream.aiter_raw():
                    yield piece
            finally:
                await upstream.aclose()

        return StreamingResponse(relay(), upstream.status_code, headers=out_headers)

    async def openapi(request: Request) -> Response:
        return Response(spec_text, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_PAGE)

    async def docs_init(request: Request) -> Response:
        return Response(DOCS_INIT, media_type="text/javascript")

    async def not_routed(request: Request, exc: Exception) -> Response:
        # Starlette's own 404 and 405 (a path its router cannot match, such as one with a
        # newline) in the API's error shape.
        status = getattr(exc, "status_code", 404)
        return await proxy(request) if status in (404, 405) else _error(status, "error", str(exc))

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(
        exception_handlers={404: not_routed, 405: not_routed},
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/docs", docs, methods=["GET"]),
            Route("/docs/init.js", docs_init, methods=["GET"]),
            Mount("/docs/static", StaticFiles(directory=_swagger_assets()), name="docs-static"),
            Route("/{path:path}", proxy, methods=methods),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    uvicorn.run(build_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
