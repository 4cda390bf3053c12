"""LangChain (and so LangGraph) agents call models through the router without knowing providers."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from shared.ai.llm import CallContext, LLMClient
from shared.ai.llm.catalog import Catalog
from shared.ai.llm.langchain import RouterChatModel
from shared.ai.llm.router import RetryPolicy, Router
from tests.integration.llm.conftest import SleepLog, providers_for


@tool
def lookup_lead(lead_id: str) -> str:
    """Look up a lead in the CRM by id."""
    return f"lead {lead_id}: 120 employees, webinar source"


class Qualification(BaseModel):
    decision: str
    confidence: float


def _model(url: str, **kw: Any) -> RouterChatModel:
    router = Router(providers_for(url), Catalog.load(), RetryPolicy(timeout_s=5), sleep=SleepLog())
    return RouterChatModel(
        client=LLMClient(router), context=CallContext(tenant_id="acme", feature="workflow"), **kw
    )


def test_invoke_tools_structured_and_stream(simulator_url: str, sim: Any) -> None:
    model = _model(simulator_url, tier="fast")
    reply = model.invoke(
        [SystemMessage("You qualify leads."), HumanMessage("Qualify lead-42 please")]
    )
    assert "lead" in str(reply.content).lower()
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] > 0
    assert reply.response_metadata["model_name"] in Catalog.load().tier("fast").models

    with_tools = model.bind_tools([lookup_lead])
    call = with_tools.invoke([HumanMessage("Use lookup_lead for lead-42")])
    [tool_call] = call.tool_calls
    assert tool_call["name"] == "lookup_lead"
    result = lookup_lead.invoke(tool_call["args"])
    final = with_tools.invoke(
        [
            HumanMessage("Use lookup_lead for lead-42"),
            call,
            ToolMessage(result, tool_call_id=tool_call["id"], name="lookup_lead"),
        ]
    )
    assert final.content and not final.tool_calls

    structured = model.with_structured_output(Qualification).invoke("Qualify lead-42")
    assert isinstance(structured, Qualification)

    chunks = list(model.stream("Tell me about lead-42"))
    assert len(chunks) > 2
    assert "".join(str(c.content) for c in chunks) == str(
        model.invoke("Tell me about lead-42").content
    )
