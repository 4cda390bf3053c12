"""The workflow API's records: a run (``WorkflowRun``) with its context, conversation, execution
steps and the actions each agent took, tokens and cost included."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

WorkflowType = Literal["lead_qualification", "outreach_draft", "interaction_triage"]
WORKFLOW_TYPES: tuple[str, ...] = ("lead_qualification", "outreach_draft", "interaction_triage")
Status = Literal[
    "queued", "running", "waiting_for_human", "completed", "failed", "cancelled", "handed_off"
]
FINAL_STATUSES = ("completed", "failed", "cancelled", "handed_off")
Priority = Literal["high", "normal", "low"]
Agent = Literal["coordinator", "lead_analysis", "content_generation", "decision", "single_agent"]


class AgentAction(BaseModel):
    """One thing an agent did: a model call (with its template version, tokens and cost), a tool
    call, a routing choice or a hand-off."""

    agent: Agent
    action: str  # "analyse", "score_lead", "route", "draft", "decide", "classify", ...
    summary: str = ""
    template: str | None = None  # "lead_analysis@v1"
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    at: datetime


class ExecutionStep(BaseModel):
    """A graph node that completed, in order."""

    node: str
    agent: Agent
    status: Literal["completed", "failed", "skipped"] = "completed"
    at: datetime
    detail: str = ""


class ConversationTurn(BaseModel):
    """One message in a triage conversation."""

    role: Literal["customer", "agent", "human"]
    content: str
    at: datetime | None = None


class WorkflowContext(BaseModel):
    """What the run works on: the CRM records it read (lead, customer, recent interactions) and
    the caller's input."""

    lead_id: str | None = None
    customer_id: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    lead: dict[str, Any] | None = None
    customer: dict[str, Any] | None = None
    interactions: list[dict[str, Any]] = Field(default_factory=list)
    conversation: list[ConversationTurn] = Field(default_factory=list)


class HumanTask(BaseModel):
    """What the run waits for: the task id a ``continue`` must name, what to decide, the draft."""

    task_id: str
    kind: Literal["approve_draft", "review_triage", "handoff"]
    prompt: str
    payload: dict[str, Any] = Field(default_factory=dict)
    options: list[str] = Field(default_factory=lambda: ["approve", "edit", "reject"])


class WorkflowRun(BaseModel):
    """A workflow run as stored: its type, status, steps, the task waiting for a person, the output,
    and the lease and slice bookkeeping of the runner."""

    run_id: str
    tenant_id: str
    type: WorkflowType
    status: Status = "queued"
    priority: Priority = "normal"
    context: WorkflowContext
    steps: list[ExecutionStep] = Field(default_factory=list)
    actions: list[AgentAction] = Field(default_factory=list)
    pending_task: HumanTask | None = None
    resume: dict[str, Any] | None = None  # the human's decision, handed to the graph
    output: dict[str, Any] | None = None
    error: str | None = None
    degraded: str | None = None  # why the run left the multi-agent path
    mode: Literal["multi_agent", "single_agent"] = "multi_agent"
    failures: int = 0
    slice: int = 0
    lease_until: datetime | None = None  # a runner is working on the current slice until then
    # The fencing token of the runner that claimed the current slice: its checkpoint writes
    # carry it, and a write under an older token is refused (shared/capabilities/workflows/_storage.py).
    lease_token: int = 0
    cancel_requested: bool = False
    # When the run first finished or reached a person (its deadline's clock stops there).
    first_stop_at: datetime | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @property
    def tokens(self) -> int:
        """Tokens all the run's LLM calls used."""
        return sum(a.input_tokens + a.output_tokens for a in self.actions)

    @property
    def cost_usd(self) -> float:
        """What all the run's LLM calls cost."""
        return round(sum(a.cost_usd for a in self.actions), 9)

    def public(self) -> dict[str, Any]:
        """The run as the API shows it, without the runner's bookkeeping."""
        body = self.model_dump(
            mode="json",
            exclude={"resume", "slice", "version", "lease_until", "lease_token", "first_stop_at"},
        )
        body.update(tokens=self.tokens, cost_usd=self.cost_usd)
        return body
