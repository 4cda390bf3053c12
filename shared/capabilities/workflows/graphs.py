"""The workflow graphs: a coordinator that routes between the lead analysis, content generation
and decision agents (and a human), per workflow type; and the single-agent graph a run degrades
to when the multi-agent path keeps failing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from shared.capabilities.workflows.agents import (
    AgentState,
    Deps,
    call_template,
    coordinator,
    make_agents,
    route,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from langgraph.checkpoint.base import BaseCheckpointSaver

    from shared.capabilities.workflows.models import WorkflowRun

NODES: dict[str, tuple[str, ...]] = {
    "lead_qualification": ("lead_analysis", "decision", "finish"),
    "outreach_draft": ("lead_analysis", "content_generation", "human_review", "finish"),
    "interaction_triage": ("classify", "content_generation", "human_review", "finish"),
}
TASKS = {
    "lead_qualification": "Qualify this lead: decide route_to_rep, nurture or disqualify, with reasons.",
    "outreach_draft": "Draft a short personalised first outreach email to this lead (subject and body).",
    "interaction_triage": "Classify this customer message (intent, sentiment, urgency) and draft a reply.",
}


def build_graph(kind: str, deps: Deps, checkpointer: BaseCheckpointSaver[Any]) -> Any:
    """The multi-agent graph of a workflow type: the coordinator routes between the specialised
    agents, checkpointed by ``checkpointer``.

    The coordinator chooses the first agent in a step of its own; after that it decides in the
    step of the agent it follows (:func:`_then_route`), so an agent's work and the choice it leads
    to are one checkpoint and one commit. The run records the coordinator's action and step as
    before (coordinator, agent, coordinator, agent, ... finish); a lead qualification takes four
    steps, not six."""
    agents = make_agents(deps)
    graph = StateGraph(AgentState)
    graph.add_node("coordinator", coordinator)
    for name in NODES[kind]:
        if name == "finish":
            graph.add_node(name, agents[name])
        else:
            graph.add_node(name, _then_route(agents[name]), destinations=NODES[kind])
    graph.add_edge(START, "coordinator")
    graph.add_conditional_edges("coordinator", route, {n: n for n in NODES[kind]})
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)


def _then_route(agent: Callable[[AgentState], AgentState]) -> Any:
    """``agent``, followed in its own step by the coordinator's choice of the next node."""

    def node(state: AgentState) -> Command[str]:
        update = agent(state)
        routed = coordinator(cast("AgentState", {**state, **update}))
        return Command(
            goto=routed["next"],
            update={
                **update,
                "next": routed["next"],
                "actions": [*update.get("actions", []), *routed["actions"]],
                "steps": [*update.get("steps", []), *routed["steps"]],
            },
        )

    return node


def build_single_agent(kind: str, deps: Deps, checkpointer: BaseCheckpointSaver[Any]) -> Any:
    """One node, one model call doing the whole job; a person checks what it could not decide."""

    def single(state: AgentState) -> AgentState:
        ctx = state["context"]
        data = {k: ctx.get(k) for k in ("input", "lead", "customer", "interactions")}
        answer, record = call_template(
            deps,
            "single_agent",
            "do_all",
            "single_agent",
            {"task": TASKS[kind], "data": json.dumps(data, default=str)[:12_000]},
        )
        return {
            "output": {"outcome": "single_agent", **answer},
            "actions": [record],
            "steps": [
                {
                    "node": "single_agent",
                    "agent": "single_agent",
                    "status": "completed",
                    "at": record["at"],
                    "detail": "needs human" if answer.get("needs_human") else "",
                }
            ],
        }

    graph = StateGraph(AgentState)
    graph.add_node("single_agent", single)
    graph.add_edge(START, "single_agent")
    graph.add_edge("single_agent", END)
    return graph.compile(checkpointer=checkpointer)


def stream_input(run: WorkflowRun, snapshot: Any) -> Any:
    """The person's answer to a pending interrupt, a new run's initial state, or None: go on
    from the checkpoint (an interrupted slice, or a finished graph that falls to completion)."""
    if snapshot.interrupts and run.resume is not None:
        return Command(resume=run.resume)
    if snapshot.next or snapshot.values:
        return None
    return {
        "run_id": run.run_id,
        "type": run.type,
        "context": run.context.model_dump(mode="json"),
        "actions": [],
        "steps": [],
    }
