"""HTTP: workflow runs (``functions/workflows_api``) and the Cloud Tasks target that runs them
(``functions/workflow_runner``).

- ``POST /api/v1/ai/workflows`` (``workflows:run``; ``Idempotency-Key``): 202 with the run.
- ``GET /api/v1/ai/workflows/{run_id}`` (``workflows:read``): status, steps, actions, pending
  human task, tokens, cost.
- ``PUT /api/v1/ai/workflows/{run_id}/continue`` (``workflows:decide``): the human's decision
  on the pending task; a stale task id or a second concurrent decision gets 409.
- ``DELETE /api/v1/ai/workflows/{run_id}`` (``workflows:run``): cancel at the next step boundary.
- ``GET /api/v1/ai/workflows?status=&type=&customer_id=&limit=&cursor=`` (``workflows:read``).
- ``GET|PUT /api/v1/ai/workflow-triggers`` (read ``workflows:read``; write
  ``workflows:configure``, admin): which CRM events start which workflows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.capabilities.crm.readmodel import entity_fields, recent_interactions
from shared.capabilities.workflows.models import (
    FINAL_STATUSES,
    ConversationTurn,
    WorkflowContext,
    WorkflowRun,
)
from shared.capabilities.workflows.runs import RunStore, enqueue_slice, run_id_for
from shared.capabilities.workflows.schemas import (
    ContinueBody,
    Edit,
    ListQuery,
    RunPage,
    RunView,
    SliceTask,
    StartBody,
    StartInteractionTriage,
    StartLeadQualification,
    StartOutreachDraft,
    Triggers,
    TriggersBody,
)
from shared.capabilities.workflows.triggers import TriggerSettings
from shared.core.auth.rbac import Permission, has_permission
from shared.core.config import get_settings
from shared.core.errors import Conflict, NotFound, PermissionDenied
from shared.core.log import log_context
from shared.core.tenancy.scope import TenantStore
from shared.core.web.http import Route

if TYPE_CHECKING:
    import flask

    from shared.capabilities.workflows.runner import SliceOutcome
    from shared.core.web.http import Response as HttpResponse
    from shared.edge.http import Ctx
    from shared.edge.services import Services

StartRequest = StartLeadQualification | StartOutreachDraft | StartInteractionTriage


def _context(ctx: Ctx, body: StartRequest) -> WorkflowContext:
    scope = ctx.scope
    kind, lead_id, customer_id = body.type, body.lead_id, body.customer_id
    lead = customer = None
    if lead_id is not None:
        lead = scope.get(scope.path("leads", lead_id))
        if lead is None:
            raise NotFound(f"no lead {lead_id!r} in this tenant", field="lead_id")
        lead = entity_fields(lead)
    data = body.input.model_dump(exclude_none=True)
    interactions: list[dict[str, Any]] = []
    if customer_id is not None:
        customer = scope.get(scope.path("customers", customer_id))
        if customer is not None:
            customer = entity_fields(customer)
        interactions = recent_interactions(scope, customer_id)
    conversation = (
        [ConversationTurn(role="customer", content=str(data["message"]), at=datetime.now(UTC))]
        if kind == "interaction_triage"
        else []
    )
    return WorkflowContext(
        lead_id=lead_id,
        customer_id=customer_id,
        input=data,
        lead=lead,
        customer=customer,
        interactions=interactions,
        conversation=conversation,
    )


def start(ctx: Ctx) -> tuple[RunView, int]:
    """``POST /api/v1/ai/workflows``: Start a workflow run (202); Idempotency-Key makes a repeat
    return the same run."""
    body = ctx.body(StartBody).root
    now = datetime.now(UTC)
    run = WorkflowRun(
        run_id=run_id_for(ctx.tenant_id, ctx.request.headers.get("Idempotency-Key")),
        tenant_id=ctx.tenant_id,
        type=body.type,
        priority=body.priority,
        context=_context(ctx, body),
        created_by=ctx.principal.subject,
        created_at=now,
        updated_at=now,
    )
    return RunView.model_validate(_start_run(ctx, run)), 202


def _start_run(ctx: Ctx, run: WorkflowRun) -> dict[str, Any]:
    runs = RunStore(ctx.scope, ctx.services.publisher)
    stored, _ = runs.create(run)
    if stored.status == "queued":
        # A repeated request re-enqueues a run that may have lost its task; the task name makes
        # it harmless in the cloud, the slice claim locally.
        enqueue_slice(ctx.services.tasks, get_settings().workflow_runner_url, stored, stored.slice)
    return stored.public()


def get_run(ctx: Ctx) -> tuple[RunView, int]:
    """``GET /api/v1/ai/workflows/{run_id}``: A run: status, steps, agent actions, pending human
    task, tokens, cost."""
    return RunView.model_validate(RunStore(ctx.scope).get(ctx.params["run_id"]).public()), 200


def list_runs(ctx: Ctx) -> tuple[RunPage, int]:
    """``GET /api/v1/ai/workflows``: The tenant's workflow runs, newest first, filtered by status,
    type or customer."""
    query = ctx.query(ListQuery)
    runs, cursor = RunStore(ctx.scope).list(
        status=query.status,
        type_=query.type,
        customer_id=query.customer_id,
        limit=query.limit,
        before=query.cursor,
    )
    return RunPage.model_validate({"runs": [r.public() for r in runs], "next_cursor": cursor}), 200


def _check_may_act(ctx: Ctx, run: WorkflowRun) -> None:
    """Who may decide on or cancel a run: the person who started it; anyone with
    ``workflows:manage`` (managers, admins); and, for a run a CRM event started (nobody's, the
    team's queue), any rep. Another rep's run is refused, so one rep cannot approve, rewrite or
    stop another's outreach."""
    if run.created_by.startswith("event:") or run.created_by == ctx.principal.subject:
        return
    if not has_permission(ctx.principal, Permission.WORKFLOWS_MANAGE):
        raise PermissionDenied(
            f"run {run.run_id} was started by another user; only they or a manager may act on it",
            field="run_id",
        )


def continue_run(ctx: Ctx) -> tuple[RunView, int]:
    """``PUT /api/v1/ai/workflows/{run_id}/continue``: The human's decision on the pending task (409
    when stale or already decided)."""
    run_id = ctx.params["run_id"]
    body = ctx.body(ContinueBody).root
    decision, task_id, comment = body.decision, body.task_id, body.comment
    edited = body.edited.model_dump(exclude_none=True) if isinstance(body, Edit) else None
    runs = RunStore(ctx.scope, ctx.services.publisher)

    def change(run: WorkflowRun) -> WorkflowRun:
        _check_may_act(ctx, run)
        if run.status != "waiting_for_human" or run.pending_task is None:
            raise Conflict(
                f"run {run_id} is {run.status}, not waiting for a decision", field="run_id"
            )
        if run.pending_task.task_id != task_id:
            raise Conflict(
                f"task {task_id} is stale; the pending task is {run.pending_task.task_id}",
                field="task_id",
            )
        run.resume = {
            "decision": decision,
            "edited": edited,
            "comment": comment,
            "by": ctx.principal.subject,
            "at": datetime.now(UTC).isoformat(),
        }
        run.context.conversation.append(
            ConversationTurn(
                role="human", content=f"{decision}: {comment}".strip(": "), at=datetime.now(UTC)
            )
        )
        run.status, run.pending_task = "queued", None
        return run

    run = runs.update(run_id, change)
    runs.publish(run, "workflow.status_changed", decision=decision)
    enqueue_slice(ctx.services.tasks, get_settings().workflow_runner_url, run, run.slice)
    return RunView.model_validate(run.public()), 202


def cancel_run(ctx: Ctx) -> tuple[RunView, int]:
    """``DELETE /api/v1/ai/workflows/{run_id}``: Cancel a run at its next step boundary."""
    run_id = ctx.params["run_id"]
    runs = RunStore(ctx.scope, ctx.services.publisher)

    def change(run: WorkflowRun) -> WorkflowRun | None:
        _check_may_act(ctx, run)
        if run.status in FINAL_STATUSES:
            return None
        run.cancel_requested = True
        if run.status != "running":  # nobody is mid-step: cancel now
            run.status, run.pending_task = "cancelled", None
        return run

    run = runs.update(run_id, change)
    if run.status == "cancelled":
        runs.publish(run, "workflow.status_changed")
    return RunView.model_validate(run.public()), 202


def get_trigger_settings(ctx: Ctx) -> tuple[Triggers, int]:
    """``GET /api/v1/ai/workflow-triggers``: Which CRM events start which workflows for the
    tenant."""
    from shared.capabilities.workflows.triggers import get_triggers

    return Triggers.model_validate(get_triggers(ctx.scope).model_dump()), 200


def put_trigger_settings(ctx: Ctx) -> tuple[Triggers, int]:
    """``PUT /api/v1/ai/workflow-triggers``: Set which CRM events start which workflows (admin)."""
    from shared.capabilities.workflows.triggers import put_triggers

    settings = TriggerSettings.model_validate(ctx.body(TriggersBody).model_dump())
    return Triggers.model_validate(put_triggers(ctx.scope, settings).model_dump()), 200


_BASE = "/api/v1/ai/workflows"
_TRIGGERS = "/api/v1/ai/workflow-triggers"
ROUTES = (
    Route("GET", _TRIGGERS, Permission.WORKFLOWS_READ, get_trigger_settings, response=Triggers),
    Route(
        "PUT",
        _TRIGGERS,
        Permission.WORKFLOWS_CONFIGURE,
        put_trigger_settings,
        body=TriggersBody,
        response=Triggers,
    ),
    Route(
        "POST",
        _BASE,
        Permission.WORKFLOWS_RUN,
        start,
        body=StartBody,
        response=RunView,
        status=202,
        errors=(404,),
        idempotent=True,
        links={
            "getWorkflow": {"run_id": "$response.body#/run_id"},
            "cancelWorkflow": {"run_id": "$response.body#/run_id"},
            "continueWorkflow": {"run_id": "$response.body#/run_id"},
        },
    ),
    Route("GET", _BASE, Permission.WORKFLOWS_READ, list_runs, query=ListQuery, response=RunPage),
    Route(
        "GET",
        _BASE + "/{run_id}",
        Permission.WORKFLOWS_READ,
        get_run,
        response=RunView,
        links={"continueWorkflow": {"run_id": "$response.body#/run_id"}},
    ),
    Route(
        "PUT",
        _BASE + "/{run_id}/continue",
        Permission.WORKFLOWS_DECIDE,
        continue_run,
        body=ContinueBody,
        response=RunView,
        status=202,
        errors=(409,),
    ),
    Route(
        "DELETE",
        _BASE + "/{run_id}",
        Permission.WORKFLOWS_RUN,
        cancel_run,
        response=RunView,
        status=202,
    ),
)


# --- the Cloud Tasks target ---------------------------------------------------------------------
def _own_url(request: flask.Request) -> str:
    """The URL Cloud Tasks called (where the next slice goes); HTTPS in the cloud, where TLS ends
    before the function."""
    url = request.url.split("?", 1)[0]
    return "https://" + url.split("://", 1)[1] if get_settings().is_cloud else url


def handle_task(request: flask.Request) -> HttpResponse:
    """The Cloud Tasks target of ``functions/workflow_runner``: run one slice of a workflow run."""
    from shared.edge.entrypoints import handle_service_call, tasks_caller

    def run(body: SliceTask, services: Services) -> SliceOutcome:
        tenant_id, run_id, slice_no = body.tenant_id, body.run_id, body.slice
        from shared.capabilities.workflows.runner import (
            Runner,  # LangGraph: only the runner pays its import
        )

        store = services.store
        with log_context(tenant_id=tenant_id, run_id=run_id, slice=str(slice_no)):
            runner = Runner(
                store,
                TenantStore(store, tenant_id),
                client=services.llm,
                publisher=services.publisher,
                queue=services.tasks,
                embedder=services.embedder,
                runner_url=get_settings().workflow_runner_url or _own_url(request),
                lease=timedelta(seconds=get_settings().workflow_lease_s),
            )
            return runner.run_slice(run_id, slice_no)

    return handle_service_call(request, tasks_caller, Permission.TASKS_RUN, SliceTask, run)
