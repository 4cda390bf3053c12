"""The local stand-in for API Gateway: routes ``/api/v1/ai/...`` to the function processes.

Its route table is ``terraform/routes.json``, the same one the OpenAPI spec of the real API
Gateway is built from. ``GET /health`` answers 200 with each component's status, 503 if any is down.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from devstack.topology import load_routes, route_regex

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


def build_app() -> Starlette:
    functions = _function_urls()
    table = [(r["method"], route_regex(r["path"]), r["function"]) for r in load_routes()]
    client = httpx.AsyncClient(timeout=300)

    async def health(request: Request) -> Response:
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
        ok = all(c["ok"] for c in components.values())
        return JSONResponse(
            {"status": "ok" if ok else "degraded", "components": components}, 200 if ok else 503
        )

    async def proxy(request: Request) -> Response:
        path = request.url.path
        matches = [(m, fn) for m, rx, fn in table if rx.match(path)]
        if not matches:
            return JSONResponse(
                {"error": {"code": "not_found", "message": f"no route for {path}"}}, 404
            )
        target = next((fn for m, fn in matches if m == request.method), None)
        if target is None:
            msg = f"method {request.method} is not allowed on {path}"
            return JSONResponse({"error": {"code": "method_not_allowed", "message": msg}}, 405)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = await client.send(
            client.build_request(
                request.method,
                functions[target] + path,
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            ),
            stream=True,  # server-sent events (chat) pass through as they come
        )
        out_headers = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in _HOP_BY_HOP | {"content-encoding"}
        }

        async def body() -> AsyncIterator[bytes]:
            try:
                async for piece in upstream.aiter_raw():
                    yield piece
            finally:
                await upstream.aclose()

        return StreamingResponse(body(), upstream.status_code, headers=out_headers)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/{path:path}", proxy, methods=methods),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    uvicorn.run(build_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
