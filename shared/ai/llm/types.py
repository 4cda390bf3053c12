"""The one request/response model every provider adapter speaks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["user", "assistant", "tool"]
Feature = Literal["workflow", "scoring", "insights", "chat", "prompt_eval", "other"]


class ToolCall(BaseModel):
    """A tool call the model asked for, with its parsed arguments."""

    id: str
    name: str
    arguments: dict[str, Any]


class Message(BaseModel):
    """One turn. ``trusted=False`` marks text from outside (CRM content, customer messages,
    retrieved documents): the guards scan it for prompt injection."""

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    trusted: bool = True


class Tool(BaseModel):
    """A tool the model may call, described by a JSON schema of its parameters."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class LLMRequest(BaseModel):
    """What a caller asks, provider-neutral: messages (untrusted ones are scanned), a tier or a
    model, tools, an optional response schema, the output limit."""

    model_config = ConfigDict(frozen=False)

    messages: list[Message]
    system: str | None = None
    tier: str = "balanced"
    model: str | None = None  # pin one model (skips tier routing)
    tools: list[Tool] = Field(default_factory=list)
    response_schema: dict[str, Any] | None = None  # JSON schema of a structured answer
    temperature: float = 0.2
    max_tokens: int = Field(default=1024, ge=1, le=64_000)
    # Partial output of an interrupted stream that this request continues (set by the router).
    continuation: str | None = None


class Usage(BaseModel):
    """Tokens a call used, cached input counted apart (it is billed at a lower price)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
        )


class LLMResponse(BaseModel):
    """A call's answer, provider-neutral: text, tool calls, the structured object when a schema was
    asked, usage, cost, and where it came from (provider, model, cache, fallback)."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    structured: dict[str, Any] | None = None
    usage: Usage = Field(default_factory=Usage)
    provider: str = ""
    model: str = ""
    finish_reason: str = "stop"
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    cache_hit: bool = False
    attempts: int = 1
    fallback: bool = False
    schema_valid: bool | None = None  # set when a response schema was requested
    batch: bool = False  # answered through a provider's batch interface (billed at batch prices)


class StreamChunk(BaseModel):
    """A piece of a streamed answer: text delta(s), then a final chunk with usage."""

    delta: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    provider: str = ""
    model: str = ""


@dataclass(frozen=True)
class SummaryPrompt:
    """The request that summarises a conversation's dropped turns, and the template it came from
    (for the usage record). Built by the prompts layer, which the client must not import."""

    request: LLMRequest
    template_id: str
    template_version: str


@dataclass(frozen=True)
class CallContext:
    """Who a call serves and how: the tenant, the feature and CRM object its cost is booked to,
    the template it was rendered from, and which caches and fallbacks it allows."""

    tenant_id: str
    feature: str = "other"
    crm_object: str | None = None
    template_id: str | None = None
    template_version: str | None = None
    cache: bool = True
    semantic_cache: bool = False  # opt in: serve a cached answer to a differently phrased question
    summarise_overflow: bool = True
    fallback: LLMResponse | None = None  # served, marked fallback=True, when every provider fails
