"""What a finished workflow run returns, and what it asks the CRM to do (the finish node)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.ai.prompts.service import record_outcome
from shared.core.config import TOPIC_AI_EVENTS
from shared.core.messaging.pubsub import ordering_key

if TYPE_CHECKING:
    from shared.capabilities.workflows.agents import AgentState, Deps

SEND_REQUESTED = "communication.send_requested"


def run_output(deps: Deps, state: AgentState) -> dict[str, Any]:
    """The run's output from its final state: the qualification decision, or the draft as the
    person decided it (an approved or edited one is sent, and the prompt version's outcome is
    recorded for its report)."""
    kind = state["type"]
    if kind == "lead_qualification":
        return {
            "outcome": (state.get("decision") or {}).get("decision", ""),
            **(state.get("decision") or {}),
            "analysis": state.get("analysis"),
            "score": state.get("score"),
        }
    review = state.get("review")
    draft = dict(state.get("draft") or {})
    if review is None:  # triage without hand-off: the draft is the result
        return {"outcome": "drafted", "draft": draft, "classification": state.get("classification")}
    verdict = str(review.get("decision"))
    if verdict == "edit" and isinstance(review.get("edited"), dict):
        draft.update(review["edited"])
    template = state.get("draft_template") or ""
    if template and "@v" in template:
        template_id, version = template.split("@v", 1)
        outcome = {"approve": "approved", "edit": "edited", "reject": "rejected"}.get(verdict)
        if outcome:
            record_outcome(deps.scope, template_id, int(version), outcome, ref=deps.run_id)
    if verdict in ("approve", "edit"):
        _request_send(deps, state, draft)
        return {
            "outcome": "sent" if kind == "outreach_draft" else "reply_sent",
            "message": draft,
            "classification": state.get("classification"),
        }
    return {"outcome": "rejected", "draft": draft, "comment": review.get("comment")}


def _request_send(deps: Deps, state: AgentState, message: dict[str, Any]) -> None:
    """Ask the CRM's communication hub to send; the event id is the run's, so a repeated step
    publishes a duplicate the hub drops."""
    if deps.publisher is None:
        return
    ctx = state["context"]
    deps.publisher.publish(
        TOPIC_AI_EVENTS,
        {
            "event_id": f"{deps.run_id}-send",
            "event_type": SEND_REQUESTED,
            "tenant_id": deps.scope.tenant_id,
            "entity_type": "workflow_run",
            "entity_id": deps.run_id,
            "data": {
                "lead_id": ctx.get("lead_id"),
                "customer_id": ctx.get("customer_id"),
                "channel": ctx.get("input", {}).get("channel", "email"),
                "message": message,
            },
        },
        ordering_key=ordering_key(deps.scope.tenant_id, deps.run_id),
        attributes={"tenant_id": deps.scope.tenant_id, "event_type": SEND_REQUESTED},
    )
