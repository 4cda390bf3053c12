"""The agents: each a LangGraph node that calls models only through the LLM layer (prompt
templates from the registry), and tools over the tenant's read model and scoring.

Every node returns the state keys it sets plus the ``AgentAction``s it took (template version,
model, tokens, cost) and one ``ExecutionStep``; both lists accumulate in the graph state.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from langgraph.types import interrupt

from shared.ai.prompts.service import run_prompt
from shared.capabilities.workflows.outcome import run_output
from shared.core.errors import AppError

if TYPE_CHECKING:
    from shared.ai.llm.client import LLMClient
    from shared.capabilities.knowledge.index import KnowledgeBase
    from shared.core.messaging.pubsub import Publisher
    from shared.core.tenancy.scope import TenantStore

# Policy for interaction triage: hand off to a person when the classifier is unsure, or the
# customer is upset and it is urgent, or wants to cancel.
HANDOFF_CONFIDENCE = 0.6


class AgentState(TypedDict, total=False):
    """What the agents of one run share in the LangGraph state (checkpointed after each step)."""

    run_id: str
    type: str
    context: dict[str, Any]
    next: str
    score: dict[str, Any] | None
    analysis: dict[str, Any] | None
    decision: dict[str, Any] | None
    classification: dict[str, Any] | None
    draft: dict[str, Any] | None
    draft_template: str | None
    handoff: str | None
    review: dict[str, Any] | None
    output: dict[str, Any] | None
    actions: Annotated[list[dict[str, Any]], operator.add]
    steps: Annotated[list[dict[str, Any]], operator.add]


@dataclass
class Deps:
    """What the agents call out to: the LLM client, the tenant's store, the publisher and the
    knowledge base."""

    client: LLMClient
    scope: TenantStore
    publisher: Publisher | None
    run_id: str
    knowledge: KnowledgeBase | None = None  # the tenant's knowledge base (triage replies)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _step(node: str, agent: str, detail: str = "") -> dict[str, Any]:
    return {"node": node, "agent": agent, "status": "completed", "at": _now(), "detail": detail}


def _action(agent: str, action: str, summary: str, **extra: Any) -> dict[str, Any]:
    return {"agent": agent, "action": action, "summary": summary[:300], "at": _now(), **extra}


def call_template(
    deps: Deps,
    agent: str,
    action: str,
    template_id: str,
    variables: dict[str, Any],
    *,
    crm_object: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a template for this run's tenant; (structured answer, the AgentAction record)."""
    rendered, response = run_prompt(
        deps.client,
        deps.scope,
        template_id,
        variables,
        crm_object=crm_object or f"workflow_run:{deps.run_id}",
        routing_key=deps.run_id,
    )
    answer = response.structured or {"text": response.text}
    record = _action(
        agent,
        action,
        json.dumps(answer)[:300],
        template=rendered.template.ref,
        model=response.model,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        cost_usd=response.cost_usd,
        latency_ms=round(response.latency_ms, 1),
    )
    return answer, record


def _lead_json(state: AgentState) -> str:
    lead = state["context"].get("lead") or {}
    return json.dumps({k: v for k, v in lead.items() if not k.startswith("_")}, default=str)


def _history(state: AgentState) -> str:
    rows = state["context"].get("interactions") or []
    return (
        "\n".join(
            f"{r.get('occurred_at', r.get('updated_at', ''))} {r.get('channel', '')}: {str(r.get('summary') or r.get('body') or r.get('subject') or '')[:300]}"
            for r in rows[:20]
        )
        or "none"
    )


# --- coordinator ------------------------------------------------------------------------------
def coordinator(state: AgentState) -> AgentState:
    """Chooses the next agent from what is done so far (deterministic: routing needs no model)."""
    kind = state["type"]
    if kind == "lead_qualification":
        nxt = (
            "lead_analysis"
            if not state.get("analysis")
            else ("decision" if not state.get("decision") else "finish")
        )
    elif kind == "outreach_draft":
        if not state.get("analysis"):
            nxt = "lead_analysis"
        elif not state.get("draft"):
            nxt = "content_generation"
        elif not state.get("review"):
            nxt = "human_review"
        else:
            nxt = "finish"
    else:  # interaction_triage
        if not state.get("classification"):
            nxt = "classify"
        elif not state.get("draft"):
            nxt = "content_generation"
        elif state.get("handoff") and not state.get("review"):
            nxt = "human_review"
        else:
            nxt = "finish"
    return {
        "next": nxt,
        "actions": [_action("coordinator", "route", f"next: {nxt}")],
        "steps": [_step("coordinator", "coordinator", nxt)],
    }


def route(state: AgentState) -> str:
    """The coordinator's choice of the next node, as LangGraph's conditional edge reads it."""
    return state["next"]


# --- agents -----------------------------------------------------------------------------------
class Agents:
    """The agents of every workflow graph, as LangGraph nodes: each takes the state and returns
    its update. ``deps`` gives them the tenant's store, LLM client, prompts and knowledge base."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def lead_analysis(self, state: AgentState) -> AgentState:
        """Score the lead and summarise what stands out for the next agents."""
        actions = []
        lead_id = state["context"].get("lead_id")
        score_text, reasons = "no model", "none"
        score: dict[str, Any] | None = None
        if lead_id:
            from shared.capabilities.scoring.service import LeadScorer

            try:
                result = LeadScorer(self.deps.scope).score(lead_id)
            except AppError as exc:
                if exc.retryable:
                    raise
                actions.append(_action("lead_analysis", "score_lead", f"no score: {exc.message}"))
            else:
                score = result.model_dump(mode="json")
                score_text = f"{result.score}/100 (confidence {result.confidence:.2f})"
                reasons = "\n".join(c.explanation for c in result.reasoning) or "none"
                actions.append(_action("lead_analysis", "score_lead", f"score {score_text}"))
        analysis, record = call_template(
            self.deps,
            "lead_analysis",
            "analyse",
            "lead_analysis",
            {"lead": _lead_json(state), "score": score_text, "reasons": reasons},
            crm_object=f"lead:{lead_id}" if lead_id else None,
        )
        return {
            "analysis": analysis,
            "score": score,
            "actions": [*actions, record],
            "steps": [_step("lead_analysis", "lead_analysis", analysis.get("fit", ""))],
        }

    def decision(self, state: AgentState) -> AgentState:
        """Decide, from the analysis, whether the lead is qualified and what to do next."""
        score = state.get("score")
        decided, record = call_template(
            self.deps,
            "decision",
            "decide",
            "qualification_decision",
            {
                "analysis": json.dumps(state.get("analysis")),
                "score": f"{score['score']}/100" if score else "no model",
            },
        )
        return {
            "decision": decided,
            "actions": [record],
            "steps": [_step("decision", "decision", str(decided.get("decision", "")))],
        }

    def classify(self, state: AgentState) -> AgentState:
        """Classify an inbound customer message (intent, urgency) and retrieve what the knowledge
        base says about it."""
        message = str(state["context"].get("input", {}).get("message", ""))
        found, record = call_template(
            self.deps,
            "lead_analysis",
            "classify",
            "interaction_classify",
            {"message": message, "history": _history(state)},
        )
        confidence = float(found.get("confidence", 0))
        reasons = []
        if confidence < HANDOFF_CONFIDENCE:
            reasons.append(f"classifier unsure ({confidence:.2f})")
        if found.get("urgency") == "high" and found.get("sentiment") == "negative":
            reasons.append("upset customer, high urgency")
        if found.get("intent") == "cancellation":
            reasons.append("cancellation request")
        policy = _action("decision", "handoff_policy", "; ".join(reasons) or "no hand-off needed")
        return {
            "classification": found,
            "handoff": "; ".join(reasons) or None,
            "actions": [record, policy],
            "steps": [_step("classify", "lead_analysis", str(found.get("intent", "")))],
        }

    def content_generation(self, state: AgentState) -> AgentState:
        """Draft the outreach message or the reply to the customer, grounded in what earlier steps
        found."""
        if state["type"] == "outreach_draft":
            return self._outreach_draft(state)
        return self._reply_draft(state)

    def _outreach_draft(self, state: AgentState) -> AgentState:
        extra = state["context"].get("input", {})
        variables = {"lead": _lead_json(state)}
        for key in ("goal", "channel"):
            if extra.get(key):
                variables[key] = extra[key]
        draft, record = call_template(
            self.deps,
            "content_generation",
            "draft",
            "outreach_draft",
            variables,
            crm_object=f"lead:{state['context'].get('lead_id')}",
        )
        return {
            "draft": draft,
            "draft_template": record["template"],
            "actions": [record],
            "steps": [_step("content_generation", "content_generation")],
        }

    def _reply_draft(self, state: AgentState) -> AgentState:
        """A reply to an inbound message, grounded in the knowledge base's best matches."""
        message = str(state["context"].get("input", {}).get("message", ""))
        knowledge_base = self.deps.knowledge
        hits = knowledge_base.search(message, k=4) if knowledge_base is not None else []
        citations = [h.citation() for h in hits]
        knowledge = "\n".join(f"[{h.doc_id}] {h.title}: {h.text[:1200]}" for h in hits) or "none"
        retrieval = _action(
            "content_generation",
            "retrieve_knowledge",
            ", ".join(c["id"] for c in citations) or "no knowledge base documents matched",
        )
        draft, record = call_template(
            self.deps,
            "content_generation",
            "draft_reply",
            "reply_draft",
            {
                "message": message,
                "classification": json.dumps(state.get("classification")),
                "knowledge": knowledge,
                "history": _history(state),
            },
        )
        return {
            "draft": {**draft, "citations": citations},
            "draft_template": record["template"],
            "actions": [retrieval, record],
            "steps": [_step("content_generation", "content_generation", f"{len(hits)} sources")],
        }

    def human_review(self, state: AgentState) -> AgentState:
        """Pause the run for a person to approve, edit or reject the draft (LangGraph interrupt)."""
        kind = "approve_draft" if state["type"] == "outreach_draft" else "review_triage"
        prompt = (
            "Approve, edit or reject this outreach draft."
            if kind == "approve_draft"
            else f"Hand-off: {state.get('handoff')}. Approve, edit or reject the drafted reply."
        )
        decision = interrupt(
            {
                "kind": kind,
                "prompt": prompt,
                "draft": state.get("draft"),
                "classification": state.get("classification"),
            }
        )
        return {
            "review": decision,
            "actions": [
                _action(
                    "coordinator",
                    "human_decision",
                    f"{decision.get('decision')} by {decision.get('by')}",
                )
            ],
            "steps": [_step("human_review", "coordinator", str(decision.get("decision")))],
        }

    def finish(self, state: AgentState) -> AgentState:
        """Record the run's output once the graph ends."""
        output = run_output(self.deps, state)
        return {
            "output": output,
            "steps": [_step("finish", "coordinator", output.get("outcome", ""))],
        }

    def nodes(self) -> dict[str, Any]:
        """The graph's nodes by name."""
        return {
            "lead_analysis": self.lead_analysis,
            "decision": self.decision,
            "classify": self.classify,
            "content_generation": self.content_generation,
            "human_review": self.human_review,
            "finish": self.finish,
        }


def make_agents(deps: Deps) -> dict[str, Any]:
    """The graph's nodes by name (:class:`Agents`)."""
    return Agents(deps).nodes()
