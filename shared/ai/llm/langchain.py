"""A LangChain chat model backed by :class:`~shared.ai.llm.client.LLMClient`, so LangGraph agents get
routing, failover, caching, budgets, guards and usage records without knowing about providers.

    model = RouterChatModel(client=runtime.llm_client(), context=CallContext(tenant_id="acme",
                            feature="workflow", crm_object="lead:42"), tier="balanced")
    model.bind_tools([lookup_lead]).invoke("Qualify lead 42")
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict
from typing_extensions import override

from shared.ai.llm.client import LLMClient  # noqa: TC001 - pydantic needs them at run time
from shared.ai.llm.types import CallContext, LLMRequest, Message, Tool, ToolCall


def _content(message: BaseMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in message.content)


def to_request(messages: Sequence[BaseMessage], **options: Any) -> LLMRequest:
    """Our request from LangChain messages; ``options`` are LLMRequest fields (tier, tools ...)."""
    system = "\n\n".join(_content(m) for m in messages if isinstance(m, SystemMessage)) or None
    turns: list[Message] = []
    for m in messages:
        if isinstance(m, HumanMessage):
            # Text marked untrusted (CRM content, customer messages) keeps that mark for the guards.
            turns.append(
                Message(
                    role="user",
                    content=_content(m),
                    trusted=not m.additional_kwargs.get("untrusted"),
                )
            )
        elif isinstance(m, AIMessage):
            calls = [
                ToolCall(id=c.get("id") or f"call_{i}", name=c["name"], arguments=c["args"])
                for i, c in enumerate(m.tool_calls)
            ]
            turns.append(Message(role="assistant", content=_content(m), tool_calls=calls))
        elif isinstance(m, ToolMessage):
            turns.append(
                Message(role="tool", content=_content(m), tool_call_id=m.tool_call_id, name=m.name)
            )
    return LLMRequest(messages=turns, system=system, **options)


class RouterChatModel(BaseChatModel):
    """A LangChain chat model on :class:`LLMClient`, so LangGraph agents get the same guards,
    budgets, failover and usage records as every other call."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: LLMClient
    context: CallContext
    tier: str = "balanced"
    max_tokens: int = 1024
    temperature: float = 0.2

    @property
    def _llm_type(self) -> str:
        return "crm-ai-router"

    @override
    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Any:
        specs = []
        for tool in tools:
            fn = convert_to_openai_tool(tool)["function"]
            specs.append(
                Tool(
                    name=fn["name"],
                    description=fn.get("description", ""),
                    parameters=fn.get("parameters", {"type": "object", "properties": {}}),
                )
            )
        return self.bind(tools=specs, **kwargs)

    def _request(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> LLMRequest:
        options = {
            "tier": self.tier,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        for key in ("tools", "response_schema", "tier", "model", "max_tokens"):
            if key in kwargs:
                options[key] = kwargs[key]
        return to_request(messages, **options)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        response = self.client.complete(self._request(messages, kwargs), self.context)
        text = response.text if response.structured is None else json.dumps(response.structured)
        message = AIMessage(
            content=text,
            tool_calls=[
                {"name": c.name, "args": c.arguments, "id": c.id, "type": "tool_call"}
                for c in response.tool_calls
            ],
            usage_metadata={
                "input_tokens": response.usage.input_tokens,
                "output_tokens": response.usage.output_tokens,
                "total_tokens": response.usage.input_tokens + response.usage.output_tokens,
            },
            response_metadata={
                "provider": response.provider,
                "model_name": response.model,
                "cost_usd": response.cost_usd,
                "cache_hit": response.cache_hit,
                "finish_reason": response.finish_reason,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self.client.stream(self._request(messages, kwargs), self.context):
            if chunk.delta:
                if run_manager is not None:
                    run_manager.on_llm_new_token(chunk.delta)
                yield ChatGenerationChunk(message=AIMessageChunk(content=chunk.delta))
            if chunk.usage is not None:
                yield ChatGenerationChunk(
                    message=AIMessageChunk(
                        content="",
                        tool_call_chunks=[
                            {
                                "name": c.name,
                                "args": json.dumps(c.arguments),
                                "id": c.id,
                                "index": i,
                            }
                            for i, c in enumerate(chunk.tool_calls)
                        ],
                        usage_metadata={
                            "input_tokens": chunk.usage.input_tokens,
                            "output_tokens": chunk.usage.output_tokens,
                            "total_tokens": chunk.usage.input_tokens + chunk.usage.output_tokens,
                        },
                        response_metadata={"provider": chunk.provider, "model_name": chunk.model},
                    )
                )
