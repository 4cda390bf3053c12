"""Gemini batch mode on the Gemini API, simulated as ``google-genai`` speaks it:

- ``POST /v1beta/models/{model}:batchGenerateContent`` with the requests inline
  (``batch.inputConfig.requests.requests[]``: ``{"request": GenerateContentRequest, "metadata"}``)
  returns the batch as a long-running operation (``{"name": "batches/...", "metadata": {...}}``);
- ``GET /v1beta/batches/{id}`` (or ``/v1/``, the SDK's default): its ``metadata.state`` (``BATCH_STATE_RUNNING``, ``..._SUCCEEDED``,
  ``..._FAILED``, ``..._EXPIRED``, ``..._CANCELLED``) and, when done, the answers inline in
  ``metadata.output.inlinedResponses.inlinedResponses[]`` in request order (``response`` or
  ``error``, with the request's ``metadata``);
- ``POST /v1beta/batches/{id}:cancel``.

Delay and faults as for the other providers' batches (see ``batches``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.simulator import wire

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from devstack.simulator.batches import BatchBook, SimBatch

_STATES = {
    "completed": "BATCH_STATE_SUCCEEDED",
    "failed": "BATCH_STATE_FAILED",
    "expired": "BATCH_STATE_EXPIRED",
    "cancelled": "BATCH_STATE_CANCELLED",
}


def _operation(book: BatchBook, batch: SimBatch) -> dict[str, Any]:
    book.settle(batch)
    metadata: dict[str, Any] = {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch",
        "model": f"models/{batch.model}",
        "displayName": batch.id,
        "state": _STATES.get(batch.final, "BATCH_STATE_RUNNING")
        if batch.results is not None
        else "BATCH_STATE_RUNNING",
        "batchStats": {"requestCount": str(len(batch.requests))},
    }
    if batch.results is not None and batch.final in ("completed", "cancelled"):
        inlined = []
        for result, (custom_id, _) in zip(batch.results, batch.requests, strict=True):
            meta = {"key": custom_id}
            if "body" in result:
                inlined.append({"response": result["body"], "metadata": meta})
            else:
                inlined.append(
                    {"error": {"code": 500, "message": result["error"]}, "metadata": meta}
                )
        metadata["output"] = {"inlinedResponses": {"inlinedResponses": inlined}}
    return {"name": f"batches/{batch.id}", "metadata": metadata, "done": batch.results is not None}


async def create(book: BatchBook, request: Request, model: str) -> Response:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        return JSONResponse(wire.error_body("gemini", 400, "body is not JSON"), status_code=400)
    config = (body.get("batch") or {}).get("inputConfig") or {}
    rows = (config.get("requests") or {}).get("requests") or []
    if not rows:
        return JSONResponse(
            wire.error_body("gemini", 400, "batch.inputConfig.requests is empty"), status_code=400
        )
    requests = [
        (str((row.get("metadata") or {}).get("key", f"r{i}")), row.get("request") or {})
        for i, row in enumerate(rows)
    ]
    batch = book.add("gemini", model.removeprefix("models/"), requests)
    return JSONResponse(_operation(book, batch))


def make_routes(
    book: BatchBook, openai_get: Callable[[Request], Awaitable[Response]]
) -> list[Route]:
    """Routes under ``/v1beta`` and ``/v1`` (the SDK's default version); ``GET /v1/batches/{id}``
    is shared with OpenAI's Batch API, so ids that are not Gemini batches go to ``openai_get``."""

    def _find(request: Request) -> tuple[SimBatch | None, str]:
        name, _, method = request.path_params["rest"].partition(":")
        batch = book.batches.get(name)
        return (batch if batch is not None and batch.provider == "gemini" else None), method

    async def get(request: Request) -> Response:
        batch, _ = _find(request)
        if batch is None and request.url.path.startswith("/v1/"):
            request.path_params["batch_id"] = request.path_params["rest"]
            return await openai_get(request)
        if batch is None:
            return JSONResponse(wire.error_body("gemini", 404, "no such batch"), status_code=404)
        return JSONResponse(_operation(book, batch))

    async def cancel(request: Request) -> Response:
        batch, method = _find(request)
        if batch is None or method != "cancel":
            return JSONResponse(wire.error_body("gemini", 404, "no such batch"), status_code=404)
        batch.cancelled = True
        return JSONResponse({})

    return [
        Route(f"/{version}/batches/{{rest:path}}", handler, methods=[method])
        for version in ("v1beta", "v1")
        for handler, method in ((get, "GET"), (cancel, "POST"))
    ]
