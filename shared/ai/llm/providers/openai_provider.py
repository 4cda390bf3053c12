"""OpenAI chat completions through the ``openai`` SDK."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from shared.ai.llm.errors import FailureKind, ProviderError
from shared.ai.llm.providers.base import CONTINUE_INSTRUCTION, SdkProvider
from shared.ai.llm.types import LLMResponse, StreamChunk, ToolCall, Usage

if TYPE_CHECKING:
    from collections.abc import Iterator

    import openai

    from shared.ai.llm.providers.base import Endpoint
    from shared.ai.llm.types import LLMRequest


def _messages(request: LLMRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for msg in request.messages:
        if msg.role == "tool":
            out.append(
                {"role": "tool", "tool_call_id": msg.tool_call_id or "", "content": msg.content}
            )
        elif msg.role == "assistant" and msg.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": msg.content or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                        }
                        for c in msg.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": msg.role, "content": msg.content})
    if request.continuation:
        out += [
            {"role": "assistant", "content": request.continuation},
            {"role": "user", "content": CONTINUE_INSTRUCTION},
        ]
    return out


def request_params(model: str, request: LLMRequest) -> dict[str, Any]:
    """The Chat Completions parameters for ``request`` on ``model``: one place for the online call
    and the Batch API's lines."""
    params: dict[str, Any] = {
        "model": model,
        "messages": _messages(request),
        "max_completion_tokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in request.tools
        ]
    if request.response_schema is not None:
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": request.response_schema},
        }
    return params


class OpenAIProvider(SdkProvider["openai.OpenAI"]):
    """OpenAI's Chat Completions API through the official SDK (``openai``)."""

    name = "openai"

    def __init__(self, endpoint: Endpoint, *, client: openai.OpenAI | None = None) -> None:
        super().__init__(client)
        self._endpoint = endpoint

    def _build(self) -> openai.OpenAI:
        import openai

        # Retries belong to the router (it honours Retry-After and fails over).
        return openai.OpenAI(
            api_key=self._endpoint.api_key, base_url=self._endpoint.base_url, max_retries=0
        )

    def _error(self, model: str, exc: Exception) -> ProviderError:
        import openai

        return self._stainless_error(model, exc, openai)

    @override
    def complete(self, model: str, request: LLMRequest, *, timeout: float) -> LLMResponse:
        import openai

        start = time.perf_counter()
        try:
            raw = self._get().chat.completions.create(
                **request_params(model, request), timeout=timeout
            )
        except (openai.OpenAIError, ValueError) as exc:
            raise self._error(model, exc) from exc
        return self.to_response(model, request, raw, (time.perf_counter() - start) * 1000)

    def to_response(
        self, model: str, request: LLMRequest, raw: Any, latency_ms: float
    ) -> LLMResponse:
        """Our response from a ``ChatCompletion`` (online, or one line of a batch's output).

        Raises:
            ProviderError: no choice, or structured output that is not a JSON object.
        """
        if not raw.choices:
            raise self._fail(model, FailureKind.BAD_RESPONSE, "no choices in the response")
        choice = raw.choices[0]
        usage = raw.usage
        cached = (
            usage.prompt_tokens_details.cached_tokens
            if usage and usage.prompt_tokens_details
            else 0
        )
        calls = [
            ToolCall(
                id=c.id, name=c.function.name, arguments=json.loads(c.function.arguments or "{}")
            )
            for c in choice.message.tool_calls or []
            if c.type == "function"
        ]
        text = choice.message.content or ""
        structured = None
        if request.response_schema is not None and text:
            structured = self._structured(model, text)
        return LLMResponse(
            text=text,
            structured=structured,
            tool_calls=calls,
            usage=Usage(
                input_tokens=usage.prompt_tokens if usage else 0,
                output_tokens=usage.completion_tokens if usage else 0,
                cached_input_tokens=cached or 0,
            ),
            provider=self.name,
            model=model,
            finish_reason=str(choice.finish_reason or "stop"),
            latency_ms=latency_ms,
        )

    @override
    def stream(self, model: str, request: LLMRequest, *, timeout: float) -> Iterator[StreamChunk]:
        import openai

        calls: dict[int, dict[str, str]] = {}
        finish: str | None = None
        try:
            events = self._get().chat.completions.create(
                **request_params(model, request),
                stream=True,
                stream_options={"include_usage": True},
                timeout=timeout,
            )
            for event in events:
                for choice in event.choices:
                    if choice.delta.content:
                        yield StreamChunk(
                            delta=choice.delta.content, provider=self.name, model=model
                        )
                    for call in choice.delta.tool_calls or []:
                        entry = calls.setdefault(
                            call.index, {"id": "", "name": "", "arguments": ""}
                        )
                        entry["id"] = call.id or entry["id"]
                        if call.function is not None:
                            entry["name"] = call.function.name or entry["name"]
                            entry["arguments"] += call.function.arguments or ""
                    finish = choice.finish_reason or finish
                if event.usage is not None:
                    cached = (
                        event.usage.prompt_tokens_details.cached_tokens
                        if event.usage.prompt_tokens_details
                        else 0
                    )
                    yield StreamChunk(
                        usage=Usage(
                            input_tokens=event.usage.prompt_tokens,
                            output_tokens=event.usage.completion_tokens,
                            cached_input_tokens=cached or 0,
                        ),
                        tool_calls=[
                            ToolCall(
                                id=c["id"],
                                name=c["name"],
                                arguments=json.loads(c["arguments"] or "{}"),
                            )
                            for _, c in sorted(calls.items())
                        ],
                        finish_reason=finish or "stop",
                        provider=self.name,
                        model=model,
                    )
        except (openai.OpenAIError, ValueError) as exc:
            raise self._error(model, exc) from exc
        except (
            Exception
        ) as exc:  # transport errors mid-stream (httpx) become a typed failure, raised
            raise self._fail(model, FailureKind.BAD_RESPONSE, f"stream broke: {exc}") from exc
