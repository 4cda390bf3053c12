"""HTTP: background LLM jobs of a tenant, and the scheduled collector.

- ``POST /api/v1/ai/llm/batches`` (``batch:submit``; ``Idempotency-Key`` header): a job of one
  template over many items (``items`` with variables, or ``lead_ids`` whose read-model record
  fills the template's ``lead`` variable). Answers 202 with the job.
- ``GET /api/v1/ai/llm/batches`` (``usage:read``): recent jobs.
- ``GET /api/v1/ai/llm/batches/{batch_id}?limit=&after=`` (``usage:read``): state, counts,
  items with their results.
- ``POST /api/v1/ai/llm/batches/{batch_id}/collect`` (``batch:submit``): collect now rather
  than at the next scheduled run.
- Scheduler target (``functions/llm_batch_jobs``): ``{"job": "collect"}`` advances every open
  job of every tenant (or ``tenant_id``).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared import runtime
from shared.auth.rbac import Permission
from shared.errors import AppError, InvalidInput, NotFound
from shared.llm.batch.service import MAX_ITEMS, BatchItem, job_id_for
from shared.log import log_context
from shared.prompts.registry import default_registry, parse_version
from shared.prompts.service import prepare
from shared.store.base import check_segment
from shared.tenancy.scope import TenantStore
from shared.web.http import Route

if TYPE_CHECKING:
    import flask

    from shared.web.http import RequestContext, Response


def _int_arg(ctx: RequestContext, name: str, default: int, low: int, high: int) -> int:
    raw = ctx.request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def _items(ctx: RequestContext, body: dict[str, Any]) -> list[BatchItem]:
    template_id = body.get("template_id")
    if not isinstance(template_id, str) or not template_id:
        raise InvalidInput("template_id is required", field="template_id")
    registry = default_registry()
    registry.get(template_id)  # 404 for an unknown template
    version = parse_version(body["version"]) if body.get("version") is not None else None
    shared_vars = body.get("variables", {})
    if not isinstance(shared_vars, dict):
        raise InvalidInput("variables must be an object", field="variables")
    raw_items = body.get("items", [])
    lead_ids = body.get("lead_ids", [])
    if not isinstance(raw_items, list) or not isinstance(lead_ids, list):
        raise InvalidInput("items and lead_ids must be lists", field="items")
    if len(raw_items) + len(lead_ids) > MAX_ITEMS:
        raise InvalidInput(f"a batch takes at most {MAX_ITEMS} items", field="items")
    entries: list[tuple[str, dict[str, Any], str | None]] = []
    for n, raw in enumerate(raw_items):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise InvalidInput("each item needs a string id", field=f"items[{n}].id")
        variables = raw.get("variables", {})
        if not isinstance(variables, dict):
            raise InvalidInput("variables must be an object", field=f"items[{n}].variables")
        crm_object = raw.get("crm_object")
        entries.append((raw["id"], {**shared_vars, **variables}, crm_object))
    for n, lead_id in enumerate(lead_ids):
        lead_id = check_segment(str(lead_id), field=f"lead_ids[{n}]")
        lead = ctx.scope.get(ctx.scope.path("leads", lead_id))
        if lead is None:
            raise NotFound(f"no lead {lead_id!r} in this tenant", field=f"lead_ids[{n}]")
        lead.pop("_meta", None)
        lead_json = json.dumps(lead, default=str, sort_keys=True)
        entries.append((lead_id, {**shared_vars, "lead": lead_json}, f"lead:{lead_id}"))
    if not entries:
        raise InvalidInput("give items or lead_ids", field="items")
    out = []
    for n, (ref, variables, crm_object) in enumerate(entries):
        try:
            rendered = prepare(ctx.scope, template_id, variables, routing_key=ref, version=version)
        except InvalidInput as exc:
            raise InvalidInput(
                f"item {ref!r}: {exc.message}", field=f"items[{n}].{exc.field}"
            ) from exc
        out.append(
            BatchItem(
                ref=ref,
                request=rendered.request,
                crm_object=crm_object,
                template_id=rendered.template_id,
                template_version=str(rendered.version),
            )
        )
    return out


def submit(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    body = ctx.json_body()
    hours = body.get("deadline_hours", 24)
    if not isinstance(hours, (int, float)) or not 0.1 <= hours <= 24:
        raise InvalidInput("deadline_hours must be a number from 0.1 to 24", field="deadline_hours")
    items = _items(ctx, body)
    template = default_registry().get(items[0].template_id or "")
    key = ctx.request.headers.get("Idempotency-Key")
    job = runtime.batch_service().submit(
        ctx.scope,
        items,
        feature=template.feature,
        deadline=timedelta(hours=float(hours)),
        job_id=job_id_for(ctx.tenant_id, key),
        submitted_by=ctx.principal.subject,
    )
    return job, 202


def get_job(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    job_id = check_segment(ctx.params["batch_id"], field="batch_id")
    after = ctx.request.args.get("after")
    return runtime.batch_service().view(
        ctx.scope, job_id, limit=_int_arg(ctx, "limit", 100, 1, 1000), after=after
    ), 200


def list_jobs(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    limit = _int_arg(ctx, "limit", 20, 1, 100)
    rows = ctx.scope.query(
        ctx.scope.path("llm_batches"), order_by="created_at", descending=True, limit=limit
    )
    keys = ("state", "mode", "feature", "created_at", "deadline_at", "completed_at", "total")
    return {"batches": [{"batch_id": i, **{k: d.get(k) for k in keys}} for i, d in rows]}, 200


def collect_now(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    job_id = check_segment(ctx.params["batch_id"], field="batch_id")
    return runtime.batch_service().collect(ctx.scope, job_id), 200


def collect_all(body: dict[str, Any]) -> dict[str, Any]:
    """Advance every open job (of ``tenant_id``, or of every tenant). A tenant whose collection
    fails with a permanent error is reported and the others go on; transient errors raise."""
    if body.get("job") != "collect":
        raise InvalidInput("job must be 'collect'", field="job")
    from shared.entrypoints import job_tenants

    store = runtime.document_store()
    tenants = job_tenants(body)
    service = runtime.batch_service()
    report: dict[str, Any] = {}
    for tenant_id in tenants:
        scope = TenantStore(store, tenant_id)
        with log_context(tenant_id=tenant_id, job="llm_batch_collect"):
            open_jobs = scope.query(scope.path("llm_batches"), where=[("state", "==", "open")])
            for job_id, _ in open_jobs:
                try:
                    view = service.collect(scope, job_id)
                except AppError as exc:
                    if exc.retryable:
                        raise
                    report[f"{tenant_id}/{job_id}"] = {"error": exc.message}
                    continue
                report[f"{tenant_id}/{job_id}"] = {"state": view["state"], "counts": view["counts"]}
    return {"job": "collect", "batches": report}


def handle_job(request: flask.Request) -> Response:
    from shared.entrypoints import handle_service_call, scheduler_caller

    return handle_service_call(request, scheduler_caller, Permission.BATCH_RUN, collect_all)


_BASE = "/api/v1/ai/llm/batches"
ROUTES = (
    Route("POST", _BASE, Permission.BATCH_SUBMIT, submit),
    Route("GET", _BASE, Permission.USAGE_READ, list_jobs),
    Route("GET", _BASE + "/{batch_id}", Permission.USAGE_READ, get_job),
    Route("POST", _BASE + "/{batch_id}/collect", Permission.BATCH_SUBMIT, collect_now),
)
