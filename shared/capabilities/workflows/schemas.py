"""The wire models of the workflow routes (``shared/edge/http/workflows.py``): what a request may hold and
what a response holds, as the OpenAPI document shows them.

A start request is one of three shapes, chosen by ``type``, so the schema itself says that a lead
workflow needs a ``lead_id`` and a triage needs ``input.message``; a decision likewise by
``decision`` (only ``edit`` takes ``edited``, and only the draft's own fields).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from shared.capabilities.workflows.models import Priority, Status
from shared.core.web.contract import Id, Int, OneOf, Query, Request, ResponseBody

WorkflowType = Literal["lead_qualification", "outreach_draft", "interaction_triage"]

Message = Annotated[str, StringConstraints(min_length=1, max_length=8000, pattern=r"\S")]
Subject = Annotated[str, StringConstraints(max_length=300)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
Line = Annotated[str, StringConstraints(max_length=500)]
Comment = Annotated[str, StringConstraints(max_length=2000)]


class NoInput(Request):
    """lead_qualification takes no input."""


class OutreachInput(Request):
    """What an outreach draft should do: its goal and channel."""

    goal: Line | None = Field(None, description="What the message is for")
    channel: Literal["email", "linkedin", "sms"] | None = Field(
        None, description="Where it goes (default email)"
    )


class TriageInput(Request):
    """The customer message to triage."""

    message: Message = Field(description="The customer's text")


class _Start(Request):
    priority: Priority = "normal"
    customer_id: Id | None = Field(None, description="Adds the customer and recent interactions")


class StartLeadQualification(_Start):
    """Qualify a lead: analysis, decision, and a person's review when the decision is unsure."""

    type: Literal["lead_qualification"]
    lead_id: Id
    input: NoInput = NoInput()


class StartOutreachDraft(_Start):
    """Draft an outreach message to a lead for a person to approve, edit or reject."""

    type: Literal["outreach_draft"]
    lead_id: Id
    input: OutreachInput = OutreachInput.model_validate({})


class StartInteractionTriage(_Start):
    """Triage a customer message: classify it, find the answer in the knowledge base and draft a
    reply for review."""

    type: Literal["interaction_triage"]
    lead_id: Id | None = None
    input: TriageInput


class StartBody(
    OneOf[
        Annotated[
            StartLeadQualification | StartOutreachDraft | StartInteractionTriage,
            Field(discriminator="type"),
        ]
    ]
):
    """Start a run: its ``type`` decides which fields it takes."""


class EditedDraft(Request):
    """The draft's fields a person changed; nothing else reaches the outgoing message."""

    subject: Subject | None = None
    body: Text | None = None
    call_to_action: Line | None = None


class _Decide(Request):
    task_id: Id = Field(description="The pending task you decide on")
    comment: Comment = ""


class Approve(_Decide):
    """Approve the draft as it is."""

    decision: Literal["approve"]


class Reject(_Decide):
    """Reject the draft; the run ends without sending."""

    decision: Literal["reject"]


class Edit(_Decide):
    """Replace the draft with a person's edit, then continue."""

    decision: Literal["edit"]
    edited: EditedDraft


class ContinueBody(OneOf[Annotated[Approve | Edit | Reject, Field(discriminator="decision")]]):
    """A person's decision on the run's pending task."""


class ListQuery(Query):
    """Filters and paging for listing runs."""

    status: Status | None = None
    type: WorkflowType | None = None
    customer_id: Id | None = None
    limit: int = Field(20, ge=1, le=100)
    cursor: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, description="next_cursor of the previous page"
    )


class TriggerBody(Request):
    """The workflow an event starts, and its priority."""

    type: Literal["interaction_triage"]
    priority: Priority = "high"


class TriggersBody(Request):
    """A tenant's event triggers: which CRM events start which workflow."""

    triggers: dict[Literal["interaction.inbound_message"], TriggerBody] = Field(
        default_factory=dict, description="CRM event type to the workflow it starts"
    )


class SliceTask(Request):
    """A Cloud Task's body: run this slice of this run (functions/workflow_runner)."""

    tenant_id: Id
    run_id: Id
    slice: Int = Field(ge=0)


class RunView(ResponseBody):
    """A workflow run as the API returns it."""

    run_id: str
    tenant_id: str
    type: WorkflowType
    status: Status
    priority: Priority
    created_at: datetime
    updated_at: datetime
    tokens: int
    cost_usd: float
    pending_task: dict[str, Any] | None = None


class RunPage(ResponseBody):
    """A page of runs, newest first, with the cursor for the next."""

    runs: list[RunView]
    next_cursor: str | None


class Triggers(ResponseBody):
    """A tenant's event triggers."""

    triggers: dict[str, dict[str, Any]]
