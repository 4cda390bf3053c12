"""Google Gemini through ``google-genai``: the Gemini API (or the simulator) with a key, or
Vertex AI with the function's service account when ``GEMINI_USE_VERTEX`` is set.

Chosen over ``google-cloud-aiplatform``: one SDK for both the Gemini API and Vertex AI, and a
cold import of about 0.5 s here against about 2.1 s (docs/llm.md)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from shared.ai.llm.errors import FailureKind, ProviderError
from shared.ai.llm.providers.base import CONTINUE_INSTRUCTION, SdkProvider, failure
from shared.ai.llm.types import LLMResponse, StreamChunk, ToolCall, Usage

if TYPE_CHECKING:
    from collections.abc import Iterator

    from google import genai

    from shared.ai.llm.providers.base import Endpoint
    from shared.ai.llm.types import LLMRequest

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}


def genai_client(
    endpoint: Endpoint | None, vertex_project: str | None, vertex_location: str
) -> genai.Client:
    """A ``google-genai`` client: Vertex AI with the ambient identity when ``endpoint`` is None,
    else the Gemini API (or the simulator) at the endpoint. One attempt per call: retries
    belong to the caller (the router, the embedding job)."""
    from google import genai
    from google.genai import types

    once = types.HttpRetryOptions(attempts=1)
    if endpoint is None:
        return genai.Client(
            vertexai=True,
            project=vertex_project,
            location=vertex_location,
            http_options=types.HttpOptions(retry_options=once),
        )
    options = types.HttpOptions(base_url=endpoint.base_url, retry_options=once)
    return genai.Client(api_key=endpoint.api_key, http_options=options)


class GeminiProvider(SdkProvider["genai.Client"]):
    """Google's Gemini models through ``google-genai``: Vertex AI in the cloud, the Gemini API with
    a key, or the simulator."""

    name = "gemini"

    def __init__(
        self,
        endpoint: Endpoint | None,
        *,
        vertex_project: str | None = None,
        vertex_location: str = "us-central1",
        client: genai.Client | None = None,
    ) -> None:
        super().__init__(client)
        self._endpoint = endpoint
        self._vertex = (vertex_project, vertex_location)

    def _build(self) -> genai.Client:
        return genai_client(self._endpoint, *self._vertex)

    def _config(self, request: LLMRequest, timeout: float | None) -> Any:
        """The call's ``GenerateContentConfig``; without ``timeout`` (a batch request) it carries
        no HTTP options."""
        from google.genai import types

        config: dict[str, Any] = {
            "temperature": request.temperature,
            "max_output_tokens": request.max_tokens,
        }
        if timeout is not None:
            config["http_options"] = types.HttpOptions(timeout=int(timeout * 1000))
        if request.system:
            config["system_instruction"] = request.system
        if request.tools:
            config["tools"] = [
                types.Tool(
                    function_declarations=[
                        types.FunctionDeclaration(
                            name=t.name,
                            description=t.description,
                            parameters_json_schema=t.parameters,
                        )
                        for t in request.tools
                    ]
                )
            ]
            config["automatic_function_calling"] = types.AutomaticFunctionCallingConfig(
                disable=True
            )
        if request.response_schema is not None:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = request.response_schema
        return types.GenerateContentConfig(**config)

    def _contents(self, request: LLMRequest) -> list[Any]:
        from google.genai import types

        out: list[types.Content] = []
        names = {c.id: c.name for m in request.messages for c in m.tool_calls}
        for msg in request.messages:
            if msg.role == "tool":
                name = names.get(msg.tool_call_id or "", msg.name or "tool")
                part = types.Part.from_function_response(
                    name=name, response={"result": msg.content}
                )
                out.append(types.Content(role="user", parts=[part]))
            elif msg.role == "assistant":
                parts = [types.Part(text=msg.content)] if msg.content else []
                parts += [
                    types.Part(function_call=types.FunctionCall(name=c.name, args=c.arguments))
                    for c in msg.tool_calls
                ]
                out.append(types.Content(role="model", parts=parts))
            else:
                out.append(types.Content(role="user", parts=[types.Part(text=msg.content)]))
        if request.continuation:
            out.append(types.Content(role="model", parts=[types.Part(text=request.continuation)]))
            out.append(types.Content(role="user", parts=[types.Part(text=CONTINUE_INSTRUCTION)]))
        return out

    def _error(self, model: str, exc: Exception) -> ProviderError:
        from google.genai import errors

        if isinstance(exc, errors.APIError):
            headers = getattr(getattr(exc, "response", None), "headers", None)
            return failure(self.name, model, int(exc.code or 500), str(exc.message), headers)
        name = type(exc).__name__.lower()
        kind = FailureKind.TIMEOUT if "timeout" in name else FailureKind.UNAVAILABLE
        if isinstance(exc, ValueError):
            kind = FailureKind.BAD_RESPONSE
        return self._fail(model, kind, str(exc))

    @staticmethod
    def _usage(meta: Any) -> Usage:
        if meta is None:
            return Usage()
        return Usage(
            input_tokens=meta.prompt_token_count or 0,
            output_tokens=(meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
            cached_input_tokens=meta.cached_content_token_count or 0,
        )

    @override
    def complete(self, model: str, request: LLMRequest, *, timeout: float) -> LLMResponse:
        start = time.perf_counter()
        try:
            raw = self._get().models.generate_content(
                model=model, contents=self._contents(request), config=self._config(request, timeout)
            )
        except Exception as exc:  # many transport types (httpx, requests); all re-raised typed
            raise self._error(model, exc) from exc
        return self.to_response(model, request, raw, (time.perf_counter() - start) * 1000)

    def to_response(
        self, model: str, request: LLMRequest, raw: Any, latency_ms: float
    ) -> LLMResponse:
        """Our response from a ``GenerateContentResponse`` (an online call's or a batch item's).

        Raises:
            ProviderError: structured output that is not valid JSON (BAD_RESPONSE).
        """
        candidate = raw.candidates[0] if raw.candidates else None
        parts = (
            candidate.content.parts
            if candidate and candidate.content and candidate.content.parts
            else []
        )
        text = "".join(p.text for p in parts if p.text)
        calls = [
            ToolCall(
                id=f"call_{i}",
                name=p.function_call.name or "",
                arguments=dict(p.function_call.args or {}),
            )
            for i, p in enumerate(parts)
            if p.function_call is not None
        ]
        structured = None
        if request.response_schema is not None and text:
            structured = self._structured(model, text)
        finish = _FINISH.get(
            str(getattr(candidate, "finish_reason", "") or "").rsplit(".", 1)[-1], "stop"
        )
        return LLMResponse(
            text=text,
            tool_calls=calls,
            structured=structured,
            usage=self._usage(raw.usage_metadata),
            provider=self.name,
            model=model,
            finish_reason="tool_calls" if calls else finish,
            latency_ms=latency_ms,
        )

    @override
    def stream(self, model: str, request: LLMRequest, *, timeout: float) -> Iterator[StreamChunk]:
        usage = Usage()
        calls: list[ToolCall] = []
        try:
            for event in self._get().models.generate_content_stream(
                model=model, contents=self._contents(request), config=self._config(request, timeout)
            ):
                for candidate in event.candidates or []:
                    for part in (candidate.content.parts if candidate.content else None) or []:
                        if part.text:
                            yield StreamChunk(delta=part.text, provider=self.name, model=model)
                        if part.function_call is not None:
                            calls.append(
                                ToolCall(
                                    id=f"call_{len(calls)}",
                                    name=part.function_call.name or "",
                                    arguments=dict(part.function_call.args or {}),
                                )
                            )
                if event.usage_metadata is not None:
                    usage = self._usage(event.usage_metadata)
        except Exception as exc:  # many transport types (httpx, requests); all re-raised typed
            raise self._error(model, exc) from exc
        yield StreamChunk(
            usage=usage,
            tool_calls=calls,
            finish_reason="tool_calls" if calls else "stop",
            provider=self.name,
            model=model,
        )
