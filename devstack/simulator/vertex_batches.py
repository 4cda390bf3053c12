"""Vertex AI batch prediction for Gemini, simulated as ``google-genai`` speaks it, with its
input and output in BigQuery (the local BigQuery emulator):

- ``POST /v1beta1/projects/{p}/locations/{l}/batchPredictionJobs`` (``inputConfig.bigquerySource
  .inputUri``, ``outputConfig.bigqueryDestination.outputUri``): reads the ``custom_id`` and
  ``request`` columns of the input table;
- ``GET .../batchPredictionJobs/{id}``: ``state`` (``JOB_STATE_RUNNING``, ``..._SUCCEEDED``,
  ``..._FAILED``, ``..._EXPIRED``, ``..._CANCELLED``); when it succeeds the output table holds
  the input columns plus ``response`` and ``status`` (empty on success), as Vertex AI writes it;
- ``POST .../batchPredictionJobs/{id}:cancel``.

The emulator's address comes from ``POST /_sim/config {"bigquery_emulator_host"}`` or the
``BIGQUERY_EMULATOR_HOST`` the simulator started with. Delay and faults as for the other batches.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from devstack.simulator import wire

if TYPE_CHECKING:
    from google.cloud import bigquery
    from starlette.requests import Request

    from devstack.simulator.batches import BatchBook, SimBatch

_STATES = {
    "completed": "JOB_STATE_SUCCEEDED",
    "failed": "JOB_STATE_FAILED",
    "expired": "JOB_STATE_EXPIRED",
    "cancelled": "JOB_STATE_CANCELLED",
}
JOBS: dict[str, dict[str, Any]] = {}  # batch id -> parent, model, input and output tables


def _client(book: BatchBook, project: str) -> bigquery.Client:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    host = book.faults.config.get("bigquery_emulator_host") or os.environ.get(
        "BIGQUERY_EMULATOR_HOST"
    )
    if not host:
        raise ValueError("the simulator has no BigQuery emulator configured")
    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=f"http://{host}"),
    )


def _table(uri: str) -> str:
    return uri.removeprefix("bq://")


def _read_requests(book: BatchBook, source: str) -> list[tuple[str, dict[str, Any]]]:
    table = _table(source)
    client = _client(book, table.split(".")[0])
    try:
        rows = client.query(
            f"SELECT custom_id, TO_JSON_STRING(request) AS request FROM `{table}`"  # noqa: S608 - simulator
        ).result()
        out = []
        for row in rows:
            request = json.loads(row["request"])
            out.append(
                (row["custom_id"], json.loads(request) if isinstance(request, str) else request)
            )
        return out
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _write_answers(book: BatchBook, batch: SimBatch, info: dict[str, Any]) -> None:
    from google.cloud import bigquery

    table = _table(info["dest"])
    client = _client(book, table.split(".")[0])
    try:
        client.create_table(
            bigquery.Table(
                table,
                schema=[
                    bigquery.SchemaField("custom_id", "STRING"),
                    bigquery.SchemaField("request", "JSON"),
                    bigquery.SchemaField("response", "JSON"),
                    bigquery.SchemaField("status", "STRING"),
                ],
            ),
            exists_ok=True,
        )
        rows = []
        for result, (custom_id, body) in zip(batch.results or [], batch.requests, strict=True):
            row: dict[str, Any] = {"custom_id": custom_id, "request": json.dumps(body)}
            if "body" in result:
                row.update(response=json.dumps(result["body"]), status="")
            else:
                row.update(response=None, status=str(result["error"]))
            rows.append(row)
        if rows:
            errors = client.insert_rows_json(table, rows)
            if errors:
                raise ValueError(f"BigQuery refused the answers: {errors}")
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _job(book: BatchBook, batch: SimBatch) -> dict[str, Any]:
    info = JOBS[batch.id]
    book.settle(batch)
    done = batch.results is not None
    state = _STATES.get(batch.final, "JOB_STATE_RUNNING") if done else "JOB_STATE_RUNNING"
    if state in ("JOB_STATE_SUCCEEDED", "JOB_STATE_CANCELLED") and not info["written"]:
        _write_answers(book, batch, info)
        info["written"] = True
    body: dict[str, Any] = {
        "name": f"{info['parent']}/batchPredictionJobs/{batch.id}",
        "displayName": info["display_name"],
        "model": f"publishers/google/models/{batch.model}",
        "state": state,
        "inputConfig": {
            "instancesFormat": "bigquery",
            "bigquerySource": {"inputUri": info["src"]},
        },
        "outputConfig": {
            "predictionsFormat": "bigquery",
            "bigqueryDestination": {"outputUri": info["dest"]},
        },
    }
    if state == "JOB_STATE_SUCCEEDED":
        body["outputInfo"] = {"bigqueryOutputTable": info["dest"]}
    if state in ("JOB_STATE_FAILED", "JOB_STATE_EXPIRED"):
        body["error"] = {"code": 13, "message": f"simulated {batch.final} batch"}
    return body


async def handle(book: BatchBook, request: Request, rest: str) -> Response:
    """``rest``: the path after ``projects/`` (``{p}/locations/{l}/batchPredictionJobs[/{id}]``)."""
    head, _, tail = rest.partition("/batchPredictionJobs")
    parent = f"projects/{head}"
    job_id, _, method = tail.strip("/").partition(":")
    try:
        if request.method == "POST" and not job_id:
            body = await request.json()
            src = body["inputConfig"]["bigquerySource"]["inputUri"]
            dest = body["outputConfig"]["bigqueryDestination"]["outputUri"]
            model = str(body["model"]).rsplit("/", 1)[-1]
            requests = await run_in_threadpool(_read_requests, book, src)
            batch = book.add("vertex", model, requests)
            JOBS[batch.id] = {
                "parent": parent,
                "src": src,
                "dest": dest,
                "display_name": body.get("displayName", batch.id),
                "written": False,
            }
            return JSONResponse(await run_in_threadpool(_job, book, batch))
        found = book.batches.get(job_id)
        if found is None or found.id not in JOBS:
            return JSONResponse(wire.error_body("gemini", 404, "no such job"), status_code=404)
        if request.method == "POST" and method == "cancel":
            found.cancelled = True
            return JSONResponse({})
        return JSONResponse(await run_in_threadpool(_job, book, found))
    except (KeyError, ValueError, json.JSONDecodeError) as exc:
        return JSONResponse(wire.error_body("gemini", 400, str(exc)[:300]), status_code=400)
