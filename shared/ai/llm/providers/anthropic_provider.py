"""Anthropic messages through the ``anthropic`` SDK. Structured output uses a forced tool whose
input schema is the requested schema; a broken stream continues through an assistant prefill."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from shared.ai.llm.errors import FailureKind, ProviderError
from shared.ai.llm.providers.base import STRUCTURED_TOOL, SdkProvider
from shared.ai.llm.types import LLMResponse, StreamChunk, ToolCall, Usage

if TYPE_CHECKING:
    from collections.abc import Iterator

    import anthropic

    from shared.ai.llm.providers.base import Endpoint
    from shared.ai.llm.types import LLMRequest

_STOP = {
    "end_turn": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "stop_sequence": "stop",
}


def _messages(request: LLMRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for msg in request.messages:
        if msg.role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": msg.tool_call_id or "",
                "content": msg.content,
            }
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif msg.role == "assistant" and msg.tool_calls:
            blocks: list[dict[str, Any]] = (
                [{"type": "text", "text": msg.content}] if msg.content else []
            )
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in msg.tool_calls
            ]
            out.append({"role": "assistant", "content": blocks})
        else:
            out.append({"role": msg.role, "content": msg.content})
    if request.continuation:
        # The API refuses a final assistant turn that ends in white space.
        out.append({"role": "assistant", "content": request.continuation.rstrip()})
    return out


def request_params(model: str, request: LLMRequest) -> dict[str, Any]:
    """The Messages API parameters for ``request`` on ``model``: one place for the online call and
    the Message Batches API's lines."""
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": _messages(request),
        # This SDK generation takes no temperature: the models choose their own sampling.
    }
    if request.system:
        params["system"] = request.system
    tools = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters}
        for t in request.tools
    ]
    if request.response_schema is not None:
        tools.append(
            {
                "name": STRUCTURED_TOOL,
                "description": "Return the answer in this shape.",
                "input_schema": request.response_schema,
            }
        )
        params["tool_choice"] = {"type": "tool", "name": STRUCTURED_TOOL}
    if tools:
        params["tools"] = tools
    return params


class AnthropicProvider(SdkProvider["anthropic.Anthropic"]):
    """Anthropic's Messages API through the official SDK (``anthropic``)."""

    name = "anthropic"

    def __init__(self, endpoint: Endpoint, *, client: anthropic.Anthropic | None = None) -> None:
        super().__init__(client)
        self._endpoint = endpoint

    def _build(self) -> anthropic.Anthropic:
        import anthropic

        # Retries belong to the router (it honours Retry-After and fails over).
        return anthropic.Anthropic(
            api_key=self._endpoint.api_key, base_url=self._endpoint.base_url, max_retries=0
        )

    def _error(self, model: str, exc: Exception) -> ProviderError:
        import anthropic

        return self._stainless_error(model, exc, anthropic)

    @override
    def complete(self, model: str, request: LLMRequest, *, timeout: float) -> LLMResponse:
        import anthropic

        start = time.perf_counter()
        try:
            raw = self._get().messages.create(**request_params(model, request), timeout=timeout)
        except (anthropic.AnthropicError, ValueError) as exc:
            raise self._error(model, exc) from exc
        return self.to_response(model, request, raw, (time.perf_counter() - start) * 1000)

    def to_response(
        self, model: str, request: LLMRequest, raw: Any, latency_ms: float
    ) -> LLMResponse:
        """Our response from a ``Message`` (online, or one succeeded result of a batch)."""
        text = "".join(b.text for b in raw.content if b.type == "text")
        calls = [
            ToolCall(id=b.id, name=b.name, arguments=dict(b.input))
            for b in raw.content
            if b.type == "tool_use"
        ]
        structured = None
        if request.response_schema is not None:
            forced = next((c for c in calls if c.name == STRUCTURED_TOOL), None)
            structured = forced.arguments if forced else None
            calls = [c for c in calls if c.name != STRUCTURED_TOOL]
            text = text or (json.dumps(structured) if structured is not None else "")
        usage = raw.usage
        return LLMResponse(
            text=text,
            tool_calls=calls,
            structured=structured,
            usage=Usage(
                input_tokens=usage.input_tokens + (usage.cache_read_input_tokens or 0),
                output_tokens=usage.output_tokens,
                cached_input_tokens=usage.cache_read_input_tokens or 0,
            ),
            provider=self.name,
            model=model,
            finish_reason="stop"
            if structured is not None
            else _STOP.get(str(raw.stop_reason), "stop"),
            latency_ms=latency_ms,
        )

    @override
    def stream(self, model: str, request: LLMRequest, *, timeout: float) -> Iterator[StreamChunk]:
        import anthropic

        input_tokens = cached = 0
        blocks: dict[int, dict[str, str]] = {}
        try:
            events = self._get().messages.create(
                **request_params(model, request), stream=True, timeout=timeout
            )
            for event in events:
                if event.type == "message_start":
                    input_tokens = event.message.usage.input_tokens
                    cached = event.message.usage.cache_read_input_tokens or 0
                elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                    blocks[event.index] = {
                        "id": event.content_block.id,
                        "name": event.content_block.name,
                        "json": "",
                    }
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta":
                        yield StreamChunk(delta=event.delta.text, provider=self.name, model=model)
                    elif event.delta.type == "input_json_delta":
                        blocks[event.index]["json"] += event.delta.partial_json
                elif event.type == "message_delta":
                    calls = [
                        ToolCall(
                            id=b["id"], name=b["name"], arguments=json.loads(b["json"] or "{}")
                        )
                        for _, b in sorted(blocks.items())
                    ]
                    yield StreamChunk(
                        usage=Usage(
                            input_tokens=input_tokens + cached,
                            output_tokens=event.usage.output_tokens,
                            cached_input_tokens=cached,
                        ),
                        tool_calls=calls,
                        finish_reason=_STOP.get(str(event.delta.stop_reason), "stop"),
                        provider=self.name,
                        model=model,
                    )
        except (anthropic.AnthropicError, ValueError) as exc:
            raise self._error(model, exc) from exc
        except (
            Exception
        ) as exc:  # transport errors mid-stream (httpx) become a typed failure, raised
            raise self._fail(model, FailureKind.BAD_RESPONSE, f"stream broke: {exc}") from exc
