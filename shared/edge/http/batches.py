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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints

from shared.ai.llm.batch.jobs import JobView
from shared.ai.llm.batch.service import MAX_ITEMS, BatchItem, job_id_for
from shared.ai.prompts.registry import default_registry, parse_version
from shared.ai.prompts.service import prepare
from shared.capabilities.crm.readmodel import entity_fields
from shared.core.auth.rbac import Permission
from shared.core.errors import AppError, InvalidInput, NotFound
from shared.core.log import log_context
from shared.core.tenancy.scope import TenantStore
from shared.core.web.contract import Fields, Id, JobBody, Query, Request, ResponseBody
from shared.core.web.http import Route
from shared.edge.http.prompts import TemplateId, Version

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response
    from shared.edge.http import Ctx
    from shared.edge.services import Services


# "lead:lead-1", "customer:c-9": the type is a usage report's by_object_type.
CrmObject = Annotated[
    str, StringConstraints(pattern=r"^[a-z_]{1,40}:[A-Za-z0-9][A-Za-z0-9_.@:+\-]{0,255}$")
]


class ItemBody(Request):
    """One item of a background job: its id, its own variables, and the CRM object its cost is
    booked to."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    variables: Fields = Field(default_factory=dict)
    crm_object: CrmObject | None = Field(None, description="The CRM object the usage is billed to")


class SubmitBody(Request):
    """A background LLM job: one template version over many items (or over leads by id), run at
    batch prices."""

    template_id: TemplateId
    version: Version | None = None
    variables: Fields = Field(default_factory=dict, description="Shared by every item")
    items: list[ItemBody] = Field(default_factory=list, max_length=MAX_ITEMS)
    lead_ids: list[Id] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="Leads whose read-model record fills the template's lead variable",
    )
    deadline_hours: float = Field(24, ge=0.1, le=24)


class CollectJob(JobBody):
    """The scheduler's body: collect every open job (of one tenant, or of all)."""

    job: Literal["collect"]


class JobQuery(Query):
    """Paging through a job's items."""

    limit: int = Field(100, ge=1, le=1000)
    after: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="next_after of the previous page"
    )


class ListQuery(Query):
    """How many recent jobs to list."""

    limit: int = Field(20, ge=1, le=100)


class JobSummary(ResponseBody):
    """A background job in a list."""

    batch_id: str
    state: str | None
    created_at: datetime | None


class JobList(ResponseBody):
    """The tenant's recent background jobs, newest first."""

    batches: list[JobSummary]


def _items(ctx: Ctx, body: SubmitBody) -> list[BatchItem]:
    template_id = body.template_id
    default_registry().get(template_id)  # 404 for an unknown template
    version = parse_version(body.version) if body.version is not None else None
    shared_vars = dict(body.variables)
    if len(body.items) + len(body.lead_ids) > MAX_ITEMS:
        raise InvalidInput(f"a batch takes at most {MAX_ITEMS} items", field="items")
    entries: list[tuple[str, dict[str, Any], str | None]] = [
        (item.id, {**shared_vars, **item.variables}, item.crm_object) for item in body.items
    ]
    for n, lead_id in enumerate(body.lead_ids):
        lead = ctx.scope.get(ctx.scope.path("leads", lead_id))
        if lead is None:
            raise NotFound(f"no lead {lead_id!r} in this tenant", field=f"lead_ids[{n}]")
        lead_json = json.dumps(entity_fields(lead), default=str, sort_keys=True)
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


def submit(ctx: Ctx) -> tuple[JobView, int]:
    """``POST /api/v1/ai/llm/batches``: Start a background LLM job of one template over many items
    (202)."""
    body = ctx.body(SubmitBody)
    items = _items(ctx, body)
    template = default_registry().get(items[0].template_id or "")
    key = ctx.request.headers.get("Idempotency-Key")
    job = ctx.services.batches.submit(
        ctx.scope,
        items,
        feature=template.feature,
        deadline=timedelta(hours=body.deadline_hours),
        job_id=job_id_for(ctx.tenant_id, key),
        submitted_by=ctx.principal.subject,
    )
    return job, 202


def get_job(ctx: Ctx) -> tuple[JobView, int]:
    """``GET /api/v1/ai/llm/batches/{batch_id}``: A background LLM job: state, counts, items with
    results."""
    query = ctx.query(JobQuery)
    view = ctx.services.batches.view(
        ctx.scope, ctx.params["batch_id"], limit=query.limit, after=query.after
    )
    return view, 200


def list_jobs(ctx: Ctx) -> tuple[JobList, int]:
    """``GET /api/v1/ai/llm/batches``: The tenant's recent background LLM jobs."""
    limit = ctx.query(ListQuery).limit
    rows = ctx.scope.query(
        ctx.scope.path("llm_batches"), order_by="created_at", descending=True, limit=limit
    )
    keys = ("state", "mode", "feature", "created_at", "deadline_at", "completed_at", "total")
    batches = [{"batch_id": i, **{k: d.get(k) for k in keys}} for i, d in rows]
    return JobList.model_validate({"batches": batches}), 200


def collect_now(ctx: Ctx) -> tuple[JobView, int]:
    """``POST /api/v1/ai/llm/batches/{batch_id}/collect``: Collect a background LLM job now instead
    of at the next scheduled run."""
    view = ctx.services.batches.collect(ctx.scope, ctx.params["batch_id"])
    return view, 200


def collect_all(body: CollectJob, services: Services) -> dict[str, Any]:
    """Advance every open job (of ``tenant_id``, or of every tenant). A tenant whose collection
    fails with a permanent error is reported and the others go on; transient errors raise."""
    from shared.edge.entrypoints import job_tenants

    store = services.store
    tenants = job_tenants(body, store)
    service = services.batches
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
                report[f"{tenant_id}/{job_id}"] = {"state": view.state, "counts": view.counts}
    return {"job": "collect", "batches": report}


def handle_job(request: flask.Request) -> Response:
    """The Scheduler target of ``functions/llm_batch_jobs``: collect every open job (of one tenant,
    or all)."""
    from shared.edge.entrypoints import handle_service_call, scheduler_caller

    return handle_service_call(
        request, scheduler_caller, Permission.BATCH_RUN, CollectJob, collect_all
    )


_BASE = "/api/v1/ai/llm/batches"
ROUTES = (
    Route(
        "POST",
        _BASE,
        Permission.BATCH_SUBMIT,
        submit,
        body=SubmitBody,
        response=JobView,
        status=202,
        errors=(404,),
        links={
            "getLlmBatch": {"batch_id": "$response.body#/batch_id"},
            "collectLlmBatch": {"batch_id": "$response.body#/batch_id"},
        },
        max_body=4 * 1024 * 1024,
        idempotent=True,
    ),
    Route("GET", _BASE, Permission.USAGE_READ, list_jobs, query=ListQuery, response=JobList),
    Route(
        "GET",
        _BASE + "/{batch_id}",
        Permission.USAGE_READ,
        get_job,
        query=JobQuery,
        response=JobView,
    ),
    Route(
        "POST",
        _BASE + "/{batch_id}/collect",
        Permission.BATCH_SUBMIT,
        collect_now,
        response=JobView,
    ),
)
