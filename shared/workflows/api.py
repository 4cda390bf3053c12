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

from shared import runtime
from shared.auth.rbac import Permission
from shared.config import get_settings
from shared.errors import Conflict, InvalidInput, NotFound
from shared.log import log_context
from shared.store.base import check_segment
from shared.tenancy.scope import TenantStore
from shared.web.http import Route
from shared.workflows.models import (
    FINAL_STATUSES,
    WORKFLOW_TYPES,
    ConversationTurn,
    WorkflowContext,
    WorkflowRun,
)
from shared.workflows.runs import RunStore, enqueue_slice, run_id_for

if TYPE_CHECKING:
    import flask

    from shared.web.http import RequestContext, Response

DECISIONS = ("approve", "edit", "reject")


def _context(ctx: RequestContext, body: dict[str, Any], kind: str) -> WorkflowContext:
    scope = ctx.scope
    data = body.get("input", {})
    if not isinstance(data, dict):
        raise InvalidInput("input must be an object", field="input")
    lead_id = body.get("lead_id")
    customer_id = body.get("customer_id")
    lead = customer = None
    if kind in ("lead_qualification", "outreach_draft") and (
        not isinstance(lead_id, str) or not lead_id
    ):
        raise InvalidInput(f"{kind} needs a lead_id", field="lead_id")
    if lead_id is not None:
        lead = scope.get(scope.path("leads", check_segment(str(lead_id), field="lead_id")))
        if lead is None:
            raise NotFound(f"no lead {lead_id!r} in this tenant", field="lead_id")
        lead.pop("_meta", None)
    if kind == "interaction_triage":
        message = data.get("message")
        if not isinstance(message, str) or not message.strip():
            raise InvalidInput(
                "interaction_triage needs input.message (the customer's text)",
                field="input.message",
            )
        if len(message) > 8000:
            raise InvalidInput(
                "input.message may hold at most 8000 characters", field="input.message"
            )
    interactions: list[dict[str, Any]] = []
    if customer_id is not None:
        customer_id = check_segment(str(customer_id), field="customer_id")
        customer = scope.get(scope.path("customers", customer_id))
        if customer is not None:
            customer.pop("_meta", None)
        rows = scope.query(
            scope.path("interactions"),
            where=[("customer_id", "==", customer_id)],
            order_by="updated_at",
            descending=True,
            limit=20,
        )
        interactions = [{k: v for k, v in d.items() if k != "_meta"} for _, d in rows]
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


def start(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    body = ctx.json_body()
    kind = body.get("type")
    if kind not in WORKFLOW_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(WORKFLOW_TYPES)}", field="type")
    priority = body.get("priority", "normal")
    if priority not in ("high", "normal", "low"):
        raise InvalidInput("priority must be high, normal or low", field="priority")
    now = datetime.now(UTC)
    run = WorkflowRun(
        run_id=run_id_for(ctx.tenant_id, ctx.request.headers.get("Idempotency-Key")),
        tenant_id=ctx.tenant_id,
        type=kind,
        priority=priority,
        context=_context(ctx, body, kind),
        created_by=ctx.principal.subject,
        created_at=now,
        updated_at=now,
    )
    return _start_run(ctx.scope, run), 202


def _start_run(scope: TenantStore, run: WorkflowRun) -> dict[str, Any]:
    runs = RunStore(scope, runtime.publisher())
    stored, _ = runs.create(run)
    if stored.status == "queued":
        # A repeated request re-enqueues a run that may have lost its task; the task name makes
        # it harmless in the cloud, the slice claim locally.
        enqueue_slice(
            runtime.task_queue(), get_settings().workflow_runner_url, stored, stored.slice
        )
    return stored.public()


def get_run(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    run_id = check_segment(ctx.params["run_id"], field="run_id")
    return RunStore(ctx.scope).get(run_id).public(), 200


def list_runs(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    args = ctx.request.args
    limit_raw = args.get("limit", "20")
    if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 100:
        raise InvalidInput("limit must be a whole number from 1 to 100", field="limit")
    status, kind = args.get("status"), args.get("type")
    if kind is not None and kind not in WORKFLOW_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(WORKFLOW_TYPES)}", field="type")
    runs, cursor = RunStore(ctx.scope).list(
        status=status,
        type_=kind,
        customer_id=args.get("customer_id"),
        limit=int(limit_raw),
        before=args.get("cursor"),
    )
    return {"runs": [r.public() for r in runs], "next_cursor": cursor}, 200


def continue_run(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    run_id = check_segment(ctx.params["run_id"], field="run_id")
    body = ctx.json_body()
    decision = body.get("decision")
    if decision not in DECISIONS:
        raise InvalidInput(f"decision must be one of {', '.join(DECISIONS)}", field="decision")
    task_id = body.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise InvalidInput("task_id is required (the pending task you decide on)", field="task_id")
    edited = body.get("edited")
    if decision == "edit" and not isinstance(edited, dict):
        raise InvalidInput(
            "an edit needs 'edited': the changed fields of the draft", field="edited"
        )
    comment = str(body.get("comment", ""))[:2000]
    runs = RunStore(ctx.scope, runtime.publisher())

    def change(run: WorkflowRun) -> WorkflowRun:
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
    enqueue_slice(runtime.task_queue(), get_settings().workflow_runner_url, run, run.slice)
    return run.public(), 202


def cancel_run(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    run_id = check_segment(ctx.params["run_id"], field="run_id")
    runs = RunStore(ctx.scope, runtime.publisher())

    def change(run: WorkflowRun) -> WorkflowRun | None:
        if run.status in FINAL_STATUSES:
            return None
        run.cancel_requested = True
        if run.status != "running":  # nobody is mid-step: cancel now
            run.status, run.pending_task = "cancelled", None
        return run

    run = runs.update(run_id, change)
    if run.status == "cancelled":
        runs.publish(run, "workflow.status_changed")
    return run.public(), 202


def get_trigger_settings(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    from shared.workflows.triggers import get_triggers

    return get_triggers(ctx.scope).model_dump(), 200


def put_trigger_settings(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    from shared.workflows.triggers import put_triggers

    return put_triggers(ctx.scope, ctx.json_body()).model_dump(), 200


ROUTES = (
    Route("GET", "/api/v1/ai/workflow-triggers", Permission.WORKFLOWS_READ, get_trigger_settings),
    Route(
        "PUT", "/api/v1/ai/workflow-triggers", Permission.WORKFLOWS_CONFIGURE, put_trigger_settings
    ),
    Route("POST", "/api/v1/ai/workflows", Permission.WORKFLOWS_RUN, start),
    Route("GET", "/api/v1/ai/workflows", Permission.WORKFLOWS_READ, list_runs),
    Route("GET", "/api/v1/ai/workflows/{run_id}", Permission.WORKFLOWS_READ, get_run),
    Route(
        "PUT", "/api/v1/ai/workflows/{run_id}/continue", Permission.WORKFLOWS_DECIDE, continue_run
    ),
    Route("DELETE", "/api/v1/ai/workflows/{run_id}", Permission.WORKFLOWS_RUN, cancel_run),
)


# --- the Cloud Tasks target ---------------------------------------------------------------------
def _own_url(request: flask.Request) -> str:
    """The URL Cloud Tasks called (where the next slice goes); HTTPS in the cloud, where TLS ends
    before the function."""
    url = request.url.split("?", 1)[0]
    return "https://" + url.split("://", 1)[1] if get_settings().is_cloud else url


def handle_task(request: flask.Request) -> Response:
    from shared.entrypoints import handle_service_call, tasks_caller

    def run(body: dict[str, Any]) -> dict[str, Any]:
        tenant_id = check_segment(str(body.get("tenant_id", "")), field="tenant_id")
        run_id = check_segment(str(body.get("run_id", "")), field="run_id")
        slice_no = body.get("slice")
        if not isinstance(slice_no, int) or slice_no < 0:
            raise InvalidInput("slice must be a whole number", field="slice")
        from shared.workflows.runner import Runner  # LangGraph: only the runner pays its import

        store = runtime.document_store()
        with log_context(tenant_id=tenant_id, run_id=run_id, slice=str(slice_no)):
            runner = Runner(
                store,
                TenantStore(store, tenant_id),
                client=runtime.llm_client(),
                publisher=runtime.publisher(),
                queue=runtime.task_queue(),
                runner_url=get_settings().workflow_runner_url or _own_url(request),
                lease=timedelta(seconds=get_settings().workflow_lease_s),
            )
            return runner.run_slice(run_id, slice_no)

    return handle_service_call(request, tasks_caller, Permission.TASKS_RUN, run)
