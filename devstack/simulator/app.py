"""The simulator's HTTP surface: the providers' own paths and wire formats, plus ``/_sim`` admin.

- OpenAI:    POST /v1/chat/completions (JSON or SSE chunks ending in ``data: [DONE]``)
- Anthropic: POST /v1/messages (JSON or the typed SSE events: message_start ... message_stop)
- Gemini:    POST /v1beta/models/{model}:generateContent and :streamGenerateContent?alt=sse (or /v1/)
- Google embeddings: POST /v1beta/models/{model}:batchEmbedContents, and on Vertex AI paths
             (/v1beta1/projects/.../models/{model}:predict), see ``embeddings``
- Batches:   OpenAI /v1/files + /v1/batches, Anthropic /v1/messages/batches (see ``batches``),
             Gemini API /v1beta/models/{model}:batchGenerateContent + /v1beta/batches/{id}
             (see ``gemini_batches``), Vertex AI batchPredictionJobs over BigQuery
             (see ``vertex_batches``)
- Admin:     POST /_sim/faults {provider, model, fault, times} · DELETE /_sim/faults (clears all)
             POST /_sim/config {latency_ms, ttft_ms, chunk_ms, context_windows} · GET /_sim/requests
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from devstack.simulator import embeddings, gemini_batches, vertex_batches, wire
from devstack.simulator.batches import BatchBook, make_routes
from devstack.simulator.brain import (
    Answer,
    Conversation,
    answer,
    chunks,
    count_tokens,
    prompt_tokens,
    split_continuation,
)
from devstack.simulator.faults import FaultBook

if TYPE_CHECKING:
    from starlette.requests import Request

BOOK = FaultBook()
BATCHES = BatchBook(BOOK)


class _Disconnect(Exception):
    """Raised inside a stream to drop the connection mid-way (a simulated network failure)."""


async def _sleep_ms(ms: float | None) -> None:
    if ms:
        await asyncio.sleep(ms / 1000)


def _error(provider: str, status: int, message: str, fault: dict[str, Any]) -> Response:
    headers = {}
    if fault.get("retry_after") is not None:
        headers["retry-after"] = str(fault["retry_after"])
    return JSONResponse(
        wire.error_body(provider, status, message), status_code=status, headers=headers
    )


async def _handle(
    request: Request,
    provider: str,
    model: str,
    stream: bool,
    parse: Callable[[dict[str, Any]], tuple[Conversation, str | None]],
    render: Callable[[str, Answer, Conversation, str], dict[str, Any]],
    render_stream: Callable[[str, Answer, Conversation, str, list[str]], list[str]],
) -> Response:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        return JSONResponse(wire.error_body(provider, 400, "body is not JSON"), status_code=400)
    fault = BOOK.take(provider, model, request.headers.get("x-sim-fault"))
    conv, prefill = parse(body)
    original, partial = split_continuation(conv, prefill)
    BOOK.record(
        {"provider": provider, "model": model, "stream": stream, "body": body, "at": time.time()}
    )
    await _sleep_ms(fault.get("latency_ms"))
    if fault.get("status"):
        return _error(provider, int(fault["status"]), f"simulated {fault['status']}", fault)
    window = BOOK.context_window(model)
    if fault.get("context_length") or prompt_tokens(conv) > window:
        return JSONResponse(
            wire.context_error(provider, prompt_tokens(conv), window), status_code=400
        )
    result = answer(original)
    if partial and result.text.startswith(partial.rstrip()):
        result.text = result.text[len(partial.rstrip()) :]
    input_tokens = prompt_tokens(conv)
    if not stream:
        if fault.get("invalid_json"):
            return Response("{ this is not json", media_type="application/json")
        return JSONResponse(render(model, result, conv, str(input_tokens)))
    pieces = chunks(result.text) if result.text else []
    events = render_stream(model, result, conv, str(input_tokens), pieces)

    async def gen() -> AsyncIterator[bytes]:
        await _sleep_ms(fault.get("ttft_ms"))
        for i, event in enumerate(events):
            if fault.get("disconnect_after") is not None and i >= int(fault["disconnect_after"]):
                raise _Disconnect("simulated mid-stream disconnect")
            if fault.get("invalid_json") and i == 1:
                yield b"data: {broken\n\n"
                return
            yield event.encode()
            await _sleep_ms(fault.get("chunk_ms"))

    return StreamingResponse(gen(), media_type="text/event-stream")


async def openai_chat(request: Request) -> Response:
    body = await request.json()
    return await _handle(
        request,
        "openai",
        body.get("model", ""),
        bool(body.get("stream")),
        wire.openai_parse,
        wire.openai_render,
        wire.openai_stream,
    )


async def anthropic_messages(request: Request) -> Response:
    body = await request.json()
    return await _handle(
        request,
        "anthropic",
        body.get("model", ""),
        bool(body.get("stream")),
        wire.anthropic_parse,
        wire.anthropic_render,
        wire.anthropic_stream,
    )


async def _embed(request: Request, model: str, render: Callable[..., dict[str, Any]]) -> Response:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        return JSONResponse(wire.error_body("gemini", 400, "body is not JSON"), status_code=400)
    fault = BOOK.take("gemini", model, request.headers.get("x-sim-fault"))
    BOOK.record({"provider": "gemini", "model": model, "embed": True, "at": time.time()})
    await _sleep_ms(fault.get("latency_ms"))
    if fault.get("status"):
        return _error("gemini", int(fault["status"]), f"simulated {fault['status']}", fault)
    return JSONResponse(render(body))


async def vertex(request: Request) -> Response:
    """Vertex AI paths (``projects/{p}/locations/{l}/publishers/google/models/{model}:method``):
    generation as on the Gemini API, text embeddings through ``:predict``, and batch prediction
    (``projects/{p}/locations/{l}/batchPredictionJobs``, see ``vertex_batches``)."""
    rest = request.path_params["rest"]
    if "/batchPredictionJobs" in rest:
        return await vertex_batches.handle(BATCHES, request, rest)
    _, _, tail = rest.rpartition("/models/")
    model, _, method = tail.partition(":")
    if method == "predict":
        return await _embed(request, model, embeddings.vertex_predict)
    return await gemini(request, f"{model}:{method}")


async def gemini(request: Request, rest: str | None = None) -> Response:
    rest = rest or request.path_params["rest"]
    model, _, method = rest.partition(":")
    if method == "batchEmbedContents":
        return await _embed(request, model, embeddings.gemini_api_embed)
    if method == "batchGenerateContent":
        return await gemini_batches.create(BATCHES, request, model)
    stream = method == "streamGenerateContent"
    if method not in ("generateContent", "streamGenerateContent"):
        return JSONResponse(
            wire.error_body("gemini", 404, f"unknown method {method}"), status_code=404
        )
    return await _handle(
        request, "gemini", model, stream, wire.gemini_parse, wire.gemini_render, wire.gemini_stream
    )


async def admin_faults(request: Request) -> Response:
    if request.method == "DELETE":
        BOOK.clear()
        return JSONResponse({"cleared": True})
    body = await request.json()
    BOOK.add(
        body.get("provider", "*"), body.get("model", "*"), body["fault"], int(body.get("times", 1))
    )
    return JSONResponse({"queued": len(BOOK.queued)})


async def admin_config(request: Request) -> Response:
    BOOK.config.update(await request.json())
    return JSONResponse(BOOK.config)


async def admin_requests(request: Request) -> Response:
    return JSONResponse({"requests": BOOK.requests})


async def health(request: Request) -> Response:
    return JSONResponse(
        {"status": "ok", "id": uuid.uuid4().hex[:8], "tokens_example": count_tokens("four")}
    )


def build_app() -> Starlette:
    batch_routes = make_routes(BATCHES)
    openai_batch_get = next(
        r.endpoint
        for r in batch_routes
        if r.path == "/v1/batches/{batch_id}" and "GET" in (r.methods or ())
    )
    return Starlette(
        routes=[
            Route("/v1/chat/completions", openai_chat, methods=["POST"]),
            Route("/v1/messages", anthropic_messages, methods=["POST"]),
            Route("/v1beta/models/{rest:path}", gemini, methods=["POST"]),
            Route("/v1/models/{rest:path}", gemini, methods=["POST"]),
            Route("/v1beta1/projects/{rest:path}", vertex, methods=["POST", "GET"]),
            Route("/v1/projects/{rest:path}", vertex, methods=["POST", "GET"]),
            Route("/_sim/faults", admin_faults, methods=["POST", "DELETE"]),
            Route("/_sim/config", admin_config, methods=["POST"]),
            Route("/_sim/requests", admin_requests, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            *gemini_batches.make_routes(BATCHES, openai_batch_get),
            *batch_routes,
        ]
    )
