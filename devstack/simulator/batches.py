"""The providers' batch interfaces, simulated: OpenAI Files + Batches and Anthropic Message
Batches, with the same answers the online endpoints give.

A batch stays in progress for ``batch_delay_s`` seconds (``POST /_sim/config``, default 0),
then every request is answered at once. Faults queued for ``provider``/``model`` with
``{"batch": "failed" | "expired"}`` end the whole batch that way; ``{"item_errors": n}`` makes
the first n requests of the batch fail while the others succeed.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.simulator import wire
from devstack.simulator.brain import answer, prompt_tokens, split_continuation

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from devstack.simulator.faults import FaultBook

_PARSE: dict[str, Callable[[dict[str, Any]], Any]] = {
    "openai": wire.openai_parse,
    "anthropic": wire.anthropic_parse,
    "gemini": wire.gemini_parse,
    "vertex": wire.gemini_parse,
}
_RENDER: dict[str, Callable[..., dict[str, Any]]] = {
    "openai": wire.openai_render,
    "anthropic": wire.anthropic_render,
    "gemini": wire.gemini_render,
    "vertex": wire.gemini_render,
}


def _answer(provider: str, body: dict[str, Any]) -> dict[str, Any]:
    conv, prefill = _PARSE[provider](body)
    original, _ = split_continuation(conv, prefill)
    return _RENDER[provider](
        body.get("model", ""), answer(original), conv, str(prompt_tokens(conv))
    )


@dataclass
class SimBatch:
    id: str
    provider: str
    model: str
    requests: list[tuple[str, dict[str, Any]]]  # (custom_id, request body)
    created: float
    fault: dict[str, Any]
    cancelled: bool = False
    results: list[dict[str, Any]] | None = None
    final: str = "in_progress"


@dataclass
class BatchBook:
    faults: FaultBook
    batches: dict[str, SimBatch] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self, provider: str, model: str, requests: list[tuple[str, dict[str, Any]]]
    ) -> SimBatch:
        fault = self.faults.take("gemini" if provider == "vertex" else provider, model, None)
        prefix = {"openai": "batch_", "anthropic": "msgbatch_"}.get(provider, "gbatch")
        # Vertex AI job ids are numbers; the SDK refuses anything else.
        batch_id = (
            str(int(uuid.uuid4().hex[:14], 16))
            if provider == "vertex"
            else prefix + uuid.uuid4().hex[:20]
        )
        batch = SimBatch(batch_id, provider, model, requests, time.time(), fault)
        with self.lock:
            self.batches[batch.id] = batch
        self.faults.record(
            {
                "provider": provider,
                "model": model,
                "batch": batch.id,
                "size": len(requests),
                "at": time.time(),
            }
        )
        return batch

    def settle(self, batch: SimBatch) -> None:
        """Finish the batch once its delay has passed (or it was cancelled)."""
        delay = float(self.faults.config.get("batch_delay_s", 0))
        if batch.results is not None or (
            time.time() - batch.created < delay and not batch.cancelled
        ):
            return
        outcome = batch.fault.get("batch")
        if outcome in ("failed", "expired"):
            batch.final, batch.results = outcome, []
            return
        failing = int(batch.fault.get("item_errors", 0))
        results: list[dict[str, Any]] = []
        for i, (custom_id, body) in enumerate(batch.requests):
            if batch.cancelled:
                results.append({"custom_id": custom_id, "error": "cancelled"})
            elif i < failing:
                results.append({"custom_id": custom_id, "error": "simulated item failure"})
            else:
                results.append({"custom_id": custom_id, "body": _answer(batch.provider, body)})
        batch.results = results
        batch.final = "cancelled" if batch.cancelled else "completed"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


# --- OpenAI -------------------------------------------------------------------------------------
def _openai_batch(book: BatchBook, batch: SimBatch) -> dict[str, Any]:
    book.settle(batch)
    status = batch.final if batch.results is not None else "in_progress"
    out_id = err_id = None
    if batch.results:
        ok = [r for r in batch.results if "body" in r]
        bad = [r for r in batch.results if "error" in r]
        if ok:
            out_id = f"file-out-{batch.id}"
            book.files[out_id] = "\n".join(
                json.dumps(
                    {
                        "id": f"req_{i}",
                        "custom_id": r["custom_id"],
                        "response": {"status_code": 200, "request_id": f"r{i}", "body": r["body"]},
                        "error": None,
                    }
                )
                for i, r in enumerate(ok)
            ).encode()
        if bad:
            err_id = f"file-err-{batch.id}"
            book.files[err_id] = "\n".join(
                json.dumps(
                    {
                        "id": f"req_e{i}",
                        "custom_id": r["custom_id"],
                        "response": {
                            "status_code": 500,
                            "request_id": f"e{i}",
                            "body": wire.error_body("openai", 500, r["error"]),
                        },
                        "error": None,
                    }
                )
                for i, r in enumerate(bad)
            ).encode()
    done = len(batch.results or [])
    failed = len([r for r in batch.results or [] if "error" in r])
    return {
        "id": batch.id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "errors": None,
        "input_file_id": f"file-in-{batch.id}",
        "completion_window": "24h",
        "status": status,
        "output_file_id": out_id,
        "error_file_id": err_id,
        "created_at": int(batch.created),
        "request_counts": {
            "total": len(batch.requests),
            "completed": done - failed,
            "failed": failed,
        },
    }


def make_routes(book: BatchBook) -> list[Route]:
    """The providers' batch interfaces (OpenAI files and batches, Anthropic message batches)."""
    r = _BatchRoutes(book)
    return [
        Route("/v1/files", r.upload, methods=["POST"]),
        Route("/v1/files/{file_id}/content", r.file_content, methods=["GET"]),
        Route("/v1/batches", r.openai_create, methods=["POST"]),
        Route("/v1/batches/{batch_id}", r.openai_get, methods=["GET"]),
        Route("/v1/batches/{batch_id}/cancel", r.openai_cancel, methods=["POST"]),
        Route("/v1/messages/batches", r.anthropic_create, methods=["POST"]),
        Route("/v1/messages/batches/{batch_id}", r.anthropic_get, methods=["GET"]),
        Route("/v1/messages/batches/{batch_id}/cancel", r.anthropic_cancel, methods=["POST"]),
        Route("/v1/messages/batches/{batch_id}/results", r.anthropic_results, methods=["GET"]),
    ]


class _BatchRoutes:
    def __init__(self, book: BatchBook) -> None:
        self.book = book

    async def upload(self, request: Request) -> Response:
        form = await request.form()
        upload = form["file"]
        data = await upload.read() if hasattr(upload, "read") else str(upload).encode()
        file_id = "file-" + uuid.uuid4().hex[:20]
        self.book.files[file_id] = data
        return JSONResponse(
            {
                "id": file_id,
                "object": "file",
                "bytes": len(data),
                "created_at": int(time.time()),
                "filename": getattr(upload, "filename", "batch.jsonl"),
                "purpose": str(form.get("purpose", "batch")),
                "status": "processed",
            }
        )

    async def file_content(self, request: Request) -> Response:
        data = self.book.files.get(request.path_params["file_id"])
        if data is None:
            return JSONResponse(wire.error_body("openai", 404, "no such file"), status_code=404)
        return Response(data, media_type="application/octet-stream")

    async def openai_create(self, request: Request) -> Response:
        body = await request.json()
        data = self.book.files.get(body.get("input_file_id", ""))
        if data is None:
            return JSONResponse(
                wire.error_body("openai", 400, "unknown input_file_id"), status_code=400
            )
        rows = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        model = rows[0]["body"].get("model", "") if rows else ""
        batch = self.book.add("openai", model, [(r["custom_id"], r["body"]) for r in rows])
        return JSONResponse(_openai_batch(self.book, batch))

    def _find(self, request: Request, provider: str) -> SimBatch | None:
        batch = self.book.batches.get(request.path_params["batch_id"])
        return batch if batch is not None and batch.provider == provider else None

    async def openai_get(self, request: Request) -> Response:
        batch = self._find(request, "openai")
        if batch is None:
            return JSONResponse(wire.error_body("openai", 404, "no such batch"), status_code=404)
        return JSONResponse(_openai_batch(self.book, batch))

    async def openai_cancel(self, request: Request) -> Response:
        batch = self._find(request, "openai")
        if batch is None:
            return JSONResponse(wire.error_body("openai", 404, "no such batch"), status_code=404)
        batch.cancelled = True
        return JSONResponse(_openai_batch(self.book, batch))

    # --- Anthropic ------------------------------------------------------------------------------
    def _anthropic_batch(self, request: Request, batch: SimBatch) -> dict[str, Any]:
        self.book.settle(batch)
        ended = batch.results is not None
        results = batch.results or []
        errored = len([r for r in results if "error" in r and r["error"] != "cancelled"])
        canceled = len([r for r in results if r.get("error") == "cancelled"])
        expired = len(batch.requests) if batch.final in ("expired", "failed") else 0
        base = str(request.base_url).rstrip("/")
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {
                "processing": 0 if ended else len(batch.requests),
                "succeeded": len(results) - errored - canceled,
                "errored": errored,
                "canceled": canceled,
                "expired": expired,
            },
            "created_at": _iso(batch.created),
            "expires_at": _iso(batch.created + timedelta(hours=24).total_seconds()),
            "ended_at": _iso(time.time()) if ended else None,
            "results_url": f"{base}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    async def anthropic_create(self, request: Request) -> Response:
        body = await request.json()
        reqs = [(r["custom_id"], r["params"]) for r in body.get("requests", [])]
        model = reqs[0][1].get("model", "") if reqs else ""
        batch = self.book.add("anthropic", model, reqs)
        return JSONResponse(self._anthropic_batch(request, batch))

    async def anthropic_get(self, request: Request) -> Response:
        batch = self._find(request, "anthropic")
        if batch is None:
            return JSONResponse(wire.error_body("anthropic", 404, "no such batch"), status_code=404)
        return JSONResponse(self._anthropic_batch(request, batch))

    async def anthropic_cancel(self, request: Request) -> Response:
        batch = self._find(request, "anthropic")
        if batch is None:
            return JSONResponse(wire.error_body("anthropic", 404, "no such batch"), status_code=404)
        batch.cancelled = True
        return JSONResponse(self._anthropic_batch(request, batch))

    async def anthropic_results(self, request: Request) -> Response:
        batch = self._find(request, "anthropic")
        if batch is None or batch.results is None:
            return JSONResponse(
                wire.error_body("anthropic", 404, "results not ready"), status_code=404
            )
        lines = []
        if batch.final in ("expired", "failed"):
            lines = [{"custom_id": cid, "result": {"type": "expired"}} for cid, _ in batch.requests]
        for r in batch.results:
            if "body" in r:
                result: dict[str, Any] = {"type": "succeeded", "message": r["body"]}
            elif r["error"] == "cancelled":
                result = {"type": "canceled"}
            else:
                result = {"type": "errored", "error": wire.error_body("anthropic", 500, r["error"])}
            lines.append({"custom_id": r["custom_id"], "result": result})
        return Response("\n".join(json.dumps(x) for x in lines), media_type="application/binary")
