"""Workflows that CRM events start, configured per tenant.

``tenants/{t}/settings/workflow_triggers``: ``{"triggers": {"interaction.inbound_message":
{"type": "interaction_triage", "priority": "high"}}}``. The ``ai-events-workflows`` subscription
pushes the matching follow-ups here; each starts at most one run (its id comes from the event id),
so a redelivered event starts nothing new.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Required, TypedDict

from pydantic import BaseModel, Field

from shared.capabilities.crm.followups import INBOUND_MESSAGE
from shared.capabilities.crm.readmodel import recent_interactions
from shared.capabilities.workflows.models import WorkflowContext, WorkflowRun
from shared.capabilities.workflows.runs import RunStore, enqueue_slice, run_id_for
from shared.core.errors import InvalidInput
from shared.core.log import get_logger, log_context
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from shared.capabilities.crm.ingest import PubSubMessage
    from shared.core.messaging.pubsub import Publisher
    from shared.core.messaging.tasks import TaskQueue
    from shared.core.store.base import DocumentStore

_log = get_logger("workflows.triggers")
TRIGGERABLE = {INBOUND_MESSAGE: "interaction_triage"}


class Trigger(BaseModel):
    """One event trigger: the workflow to start and its priority."""

    type: str
    priority: str = Field(default="high", pattern="^(high|normal|low)$")


class TriggerSettings(BaseModel):
    """A tenant's triggers by CRM event type (none by default: starting work on events is
    opt-in)."""

    triggers: dict[str, Trigger] = Field(default_factory=dict)


def _path(scope: TenantStore) -> str:
    return scope.path("settings", "workflow_triggers")


def get_triggers(scope: TenantStore) -> TriggerSettings:
    """The tenant's trigger settings (the empty default when none are stored)."""
    return TriggerSettings.model_validate(scope.get(_path(scope)) or {})


def put_triggers(scope: TenantStore, settings: TriggerSettings) -> TriggerSettings:
    """Check and store a tenant's triggers.

    Raises:
        InvalidInput: an unknown event, a workflow that event cannot start.
    """
    for event, trigger in settings.triggers.items():
        if event not in TRIGGERABLE:
            raise InvalidInput(
                f"{event} cannot start a workflow; known: {', '.join(TRIGGERABLE)}",
                field=f"triggers.{event}",
            )
        if trigger.type != TRIGGERABLE[event]:
            raise InvalidInput(
                f"{event} starts {TRIGGERABLE[event]}", field=f"triggers.{event}.type"
            )
    scope.set(_path(scope), settings.model_dump())
    return settings


class TriggerOutcome(TypedDict, total=False):
    """What an ``interaction.inbound_message`` event did: the run it started, or why none."""

    status: Required[str]  # started, already started, no trigger, no text
    event_type: str
    run_id: str


def handle_workflow_event(
    message: PubSubMessage,
    store: DocumentStore,
    publisher: Publisher | None,
    queue: TaskQueue,
    runner_url: str | None,
) -> TriggerOutcome:
    """Start the workflow a tenant configured for this ai-event, once.

    Raises:
        InvalidInput: not an ai-event (dead-lettered); TransientError: retried.
    """
    try:
        event = json.loads(message.data)
        kind, tenant_id, event_id = event["event_type"], event["tenant_id"], event["event_id"]
        data = event.get("data", {})
    except (ValueError, KeyError, TypeError) as exc:  # ValueError: bad JSON or UTF-8
        raise InvalidInput(f"not an ai-event: {exc}", field="data") from exc
    scope = TenantStore(store, str(tenant_id))
    trigger = get_triggers(scope).triggers.get(kind)
    if trigger is None:
        return {"status": "no trigger", "event_type": kind}
    with log_context(tenant_id=tenant_id, event_id=event_id):
        interaction = scope.get(scope.path("interactions", str(event["entity_id"]))) or {}
        message_text = str(
            interaction.get("body")
            or interaction.get("summary")
            or interaction.get("subject")
            or ""
        )
        if not message_text:
            _log.info("inbound message has no text to triage")
            return {"status": "no text"}
        customer_id = data.get("customer_id")
        interactions = recent_interactions(scope, str(customer_id)) if customer_id else []
        now = datetime.now(UTC)
        run = WorkflowRun(
            run_id=run_id_for(str(tenant_id), f"event:{event_id}"),
            tenant_id=str(tenant_id),
            type=trigger.type,  # type: ignore[arg-type]
            priority=trigger.priority,  # type: ignore[arg-type]
            context=WorkflowContext(
                customer_id=customer_id,
                lead_id=data.get("lead_id"),
                input={"message": message_text[:8000], "interaction_id": event["entity_id"]},
                interactions=interactions,
            ),
            created_by=f"event:{kind}",
            created_at=now,
            updated_at=now,
        )
        stored, created = RunStore(scope, publisher).create(run)
        if stored.status == "queued":
            enqueue_slice(queue, runner_url, stored, stored.slice)
        status = "started" if created else "already started"
        fields = {"run_id": stored.run_id, "workflow_type": run.type, "event_type": kind}
        _log.info("workflow %s by event", status, extra={"fields": fields})
        return {"status": status, "run_id": stored.run_id}
