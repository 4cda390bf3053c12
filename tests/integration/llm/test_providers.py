"""Each adapter drives its official SDK against the simulator's copy of the provider's wire format."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from shared.ai.llm.errors import FailureKind, ProviderError
from shared.ai.llm.types import LLMRequest, Message, Tool, ToolCall
from tests.integration.llm.conftest import MODELS, providers_for

PROVIDERS = list(MODELS)
SCHEMA = {
    "type": "object",
    "properties": {
        "intent": {"type": "string", "enum": ["billing", "technical", "sales"]},
        "urgency": {"type": "integer", "minimum": 1, "maximum": 5},
        "summary": {"type": "string", "maxLength": 120},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
    "required": ["intent", "urgency", "summary", "tags"],
}
TOOL = Tool(
    name="get_lead",
    description="Look up a lead",
    parameters={
        "type": "object",
        "properties": {"lead_id": {"type": "string"}},
        "required": ["lead_id"],
    },
)


def _request(**kw: Any) -> LLMRequest:
    base: dict[str, Any] = {
        "system": "You are a CRM assistant.",
        "messages": [
            Message(
                role="user",
                content="Our login fails since this morning, the whole team is blocked.",
            )
        ],
        "max_tokens": 120,
    }
    return LLMRequest(**{**base, **kw})


@pytest.mark.parametrize("name", PROVIDERS)
def test_text_structured_and_tools(name: str, simulator_url: str, sim: Any) -> None:
    provider = providers_for(simulator_url)[name]
    model = MODELS[name]
    text = provider.complete(model, _request(), timeout=5)
    assert "login" in text.text.lower()
    assert text.usage.input_tokens > 0 and text.usage.output_tokens > 0
    structured = provider.complete(model, _request(response_schema=SCHEMA), timeout=5)
    assert structured.structured is not None
    jsonschema.validate(structured.structured, SCHEMA)
    called = provider.complete(model, _request(tools=[TOOL]), timeout=5)
    assert called.finish_reason == "tool_calls"
    [call] = called.tool_calls
    assert call.name == "get_lead" and isinstance(call.arguments["lead_id"], str)
    # A tool result goes back and the model answers in text.
    follow = _request(
        tools=[TOOL],
        messages=[
            *_request().messages,
            Message(
                role="assistant",
                tool_calls=[ToolCall(id=call.id, name=call.name, arguments=call.arguments)],
            ),
            Message(
                role="tool", tool_call_id=call.id, name="get_lead", content='{"status": "open"}'
            ),
        ],
    )
    answer = provider.complete(model, follow, timeout=5)
    assert answer.text and not answer.tool_calls


@pytest.mark.parametrize("name", PROVIDERS)
def test_streaming_matches_the_whole_answer_and_continues_after_a_break(
    name: str, simulator_url: str, sim: Any
) -> None:
    provider = providers_for(simulator_url)[name]
    model = MODELS[name]
    whole = provider.complete(model, _request(), timeout=5).text
    chunks = list(provider.stream(model, _request(), timeout=5))
    assert len(chunks) > 3
    assert "".join(c.delta for c in chunks) == whole
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens > 0
    partial = whole[: len(whole) // 3]
    rest = "".join(
        c.delta for c in provider.stream(model, _request(continuation=partial), timeout=5)
    )
    assert partial + rest == whole


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize(
    ("fault", "kind", "retry_after"),
    [
        ({"status": 429, "retry_after": 2}, FailureKind.RATE_LIMITED, 2.0),
        ({"status": 500}, FailureKind.UNAVAILABLE, None),
        ({"status": 503}, FailureKind.UNAVAILABLE, None),
        ({"context_length": True}, FailureKind.CONTEXT_LENGTH, None),
        ({"invalid_json": True}, FailureKind.BAD_RESPONSE, None),
        ({"latency_ms": 1500}, FailureKind.TIMEOUT, None),
    ],
)
def test_faults_become_typed_failures(
    name: str,
    fault: dict[str, Any],
    kind: FailureKind,
    retry_after: float | None,
    simulator_url: str,
    sim: Any,
) -> None:
    sim.post("/_sim/faults", json={"provider": name, "fault": fault, "times": 1})
    with pytest.raises(ProviderError) as info:
        providers_for(simulator_url)[name].complete(MODELS[name], _request(), timeout=1)
    assert info.value.kind == kind
    assert info.value.retry_after == retry_after


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_mid_stream_disconnect_raises_after_the_first_tokens(
    name: str, simulator_url: str, sim: Any
) -> None:
    # Six events in: past Anthropic's message_start, content_block_start and ping.
    sim.post("/_sim/faults", json={"provider": name, "fault": {"disconnect_after": 6}, "times": 1})
    received: list[str] = []

    def consume() -> None:
        for chunk in providers_for(simulator_url)[name].stream(MODELS[name], _request(), timeout=5):
            received.append(chunk.delta)

    with pytest.raises(ProviderError) as info:
        consume()
    assert info.value.kind in (FailureKind.BAD_RESPONSE, FailureKind.UNAVAILABLE)
    assert "".join(received)  # some text arrived before the break
