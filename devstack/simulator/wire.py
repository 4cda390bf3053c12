"""Each provider's request parsing and response rendering (JSON and SSE)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from devstack.simulator.brain import Answer, Conversation, count_tokens


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _answer_text(result: Answer) -> str:
    return json.dumps(result.structured) if result.structured is not None else result.text


def _output_tokens(result: Answer) -> int:
    calls = sum(count_tokens(json.dumps(a)) + 5 for _, _, a in result.tool_calls)
    return max(1, count_tokens(_answer_text(result)) + calls)


def error_body(provider: str, status: int, message: str) -> dict[str, Any]:
    if provider == "anthropic":
        kind = {
            429: "rate_limit_error",
            529: "overloaded_error",
            400: "invalid_request_error",
            401: "authentication_error",
            404: "not_found_error",
        }.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if provider == "gemini":
        name = {
            429: "RESOURCE_EXHAUSTED",
            503: "UNAVAILABLE",
            400: "INVALID_ARGUMENT",
            404: "NOT_FOUND",
        }.get(status, "INTERNAL")
        return {"error": {"code": status, "message": message, "status": name}}
    kind = {429: "rate_limit_exceeded", 400: "invalid_request_error"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def context_error(provider: str, tokens: int, window: int) -> dict[str, Any]:
    if provider == "openai":
        return {
            "error": {
                "message": f"This model's maximum context length is {window} tokens. However, your messages resulted in {tokens} tokens.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        }
    if provider == "anthropic":
        return error_body(
            "anthropic", 400, f"prompt is too long: {tokens} tokens > {window} maximum"
        )
    return error_body(
        "gemini",
        400,
        f"The input token count ({tokens}) exceeds the maximum number of tokens allowed ({window}).",
    )


def _sse(data: dict[str, Any], event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n"


# --- OpenAI chat completions ----------------------------------------------------------------------


def openai_parse(body: dict[str, Any]) -> tuple[Conversation, str | None]:
    conv = Conversation(
        max_tokens=int(body.get("max_completion_tokens") or body.get("max_tokens") or 1024)
    )
    for msg in body.get("messages", []):
        role, text = msg.get("role"), _text_of(msg.get("content"))
        if role in ("system", "developer"):
            conv.system += text
        elif role == "tool":
            conv.turns.append(("tool", text))
        else:
            conv.turns.append((role, text))
    last = body.get("messages", [{}])[-1]
    conv.last_is_tool_result = last.get("role") == "tool"
    conv.tool_result_name = last.get("name")
    conv.tools = [
        {"name": t["function"]["name"], "parameters": t["function"].get("parameters")}
        for t in body.get("tools") or []
        if t.get("type") == "function"
    ]
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        conv.schema = fmt["json_schema"].get("schema", {})
    elif fmt.get("type") == "json_object":
        conv.schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    return conv, None


def _openai_usage(result: Answer, input_tokens: str) -> dict[str, Any]:
    out = _output_tokens(result)
    return {
        "prompt_tokens": int(input_tokens),
        "completion_tokens": out,
        "total_tokens": int(input_tokens) + out,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _openai_calls(result: Answer) -> list[dict[str, Any]]:
    return [
        {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for cid, name, args in result.tool_calls
    ]


def openai_render(
    model: str, result: Answer, conv: Conversation, input_tokens: str
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if result.tool_calls else _answer_text(result),
        "refusal": None,
    }
    if result.tool_calls:
        message["tool_calls"] = _openai_calls(result)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": result.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": _openai_usage(result, input_tokens),
        "system_fingerprint": "sim",
    }


def openai_stream(
    model: str, result: Answer, conv: Conversation, input_tokens: str, pieces: list[str]
) -> list[str]:
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "sim",
    }
    events = [
        _sse(
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "finish_reason": None,
                    }
                ],
            }
        )
    ]
    text_pieces = pieces if not result.structured else [_answer_text(result)]
    for piece in text_pieces:
        events.append(
            _sse(
                {
                    **base,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
            )
        )
    for i, call in enumerate(_openai_calls(result)):
        events.append(
            _sse(
                {
                    **base,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"tool_calls": [{"index": i, **call}]},
                            "finish_reason": None,
                        }
                    ],
                }
            )
        )
    events.append(
        _sse(
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": result.finish_reason}]}
        )
    )
    events.append(_sse({**base, "choices": [], "usage": _openai_usage(result, input_tokens)}))
    events.append("data: [DONE]\n\n")
    return events


# --- Anthropic messages ---------------------------------------------------------------------------


def anthropic_parse(body: dict[str, Any]) -> tuple[Conversation, str | None]:
    conv = Conversation(
        max_tokens=int(body.get("max_tokens", 1024)), system=_text_of(body.get("system", ""))
    )
    messages = body.get("messages", [])
    for msg in messages:
        content = msg.get("content")
        if isinstance(content, list) and any(b.get("type") == "tool_result" for b in content):
            conv.turns.append(
                (
                    "tool",
                    "".join(
                        _text_of(b.get("content"))
                        for b in content
                        if b.get("type") == "tool_result"
                    ),
                )
            )
        else:
            conv.turns.append((msg.get("role", "user"), _text_of(content)))
    last = messages[-1] if messages else {}
    content = last.get("content")
    conv.last_is_tool_result = isinstance(content, list) and any(
        b.get("type") == "tool_result" for b in content
    )
    conv.tools = [
        {"name": t["name"], "parameters": t.get("input_schema")} for t in body.get("tools") or []
    ]
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":  # structured output through a forced tool, the usual pattern
        forced = next((t for t in conv.tools if t["name"] == choice.get("name")), None)
        conv.tools = [forced] if forced else conv.tools
    prefill = None
    if last.get("role") == "assistant":
        prefill = _text_of(content)
        conv.turns = conv.turns[:-1]
    return conv, prefill


def _anthropic_blocks(result: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if result.text or result.structured is not None:
        blocks.append({"type": "text", "text": _answer_text(result)})
    blocks += [
        {"type": "tool_use", "id": f"toolu_{cid[5:]}", "name": name, "input": args}
        for cid, name, args in result.tool_calls
    ]
    return blocks


def _anthropic_stop(result: Answer) -> str:
    return {"tool_calls": "tool_use", "length": "max_tokens"}.get(result.finish_reason, "end_turn")


def _anthropic_usage(result: Answer, input_tokens: str) -> dict[str, Any]:
    return {
        "input_tokens": int(input_tokens),
        "output_tokens": _output_tokens(result),
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
    }


def anthropic_render(
    model: str, result: Answer, conv: Conversation, input_tokens: str
) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _anthropic_blocks(result),
        "stop_reason": _anthropic_stop(result),
        "stop_sequence": None,
        "usage": _anthropic_usage(result, input_tokens),
    }


def anthropic_stream(
    model: str, result: Answer, conv: Conversation, input_tokens: str, pieces: list[str]
) -> list[str]:
    start = anthropic_render(model, result, conv, input_tokens)
    start.update(content=[], stop_reason=None)
    start["usage"] = {**start["usage"], "output_tokens": 1}
    events = [_sse({"type": "message_start", "message": start}, "message_start")]
    index = 0
    if result.text or result.structured is not None:
        events.append(
            _sse(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            )
        )
        events.append(_sse({"type": "ping"}, "ping"))
        for piece in pieces if result.structured is None else [_answer_text(result)]:
            events.append(
                _sse(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                    "content_block_delta",
                )
            )
        events.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        index = 1
    for block in _anthropic_blocks(result):
        if block["type"] != "tool_use":
            continue
        events.append(
            _sse(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {**block, "input": {}},
                },
                "content_block_start",
            )
        )
        events.append(
            _sse(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {
                        "type": "input_json_delta",
                        "partial_json": json.dumps(block["input"]),
                    },
                },
                "content_block_delta",
            )
        )
        events.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        index += 1
    events.append(
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": _anthropic_stop(result), "stop_sequence": None},
                "usage": {"output_tokens": _output_tokens(result)},
            },
            "message_delta",
        )
    )
    events.append(_sse({"type": "message_stop"}, "message_stop"))
    return events


# --- Gemini generateContent -----------------------------------------------------------------------


def gemini_parse(body: dict[str, Any]) -> tuple[Conversation, str | None]:
    config = body.get("generationConfig") or {}
    conv = Conversation(max_tokens=int(config.get("maxOutputTokens") or 1024))
    system = body.get("systemInstruction") or {}
    conv.system = "".join(p.get("text", "") for p in system.get("parts", []))
    contents = body.get("contents", [])
    for item in contents:
        parts = item.get("parts", [])
        if any("functionResponse" in p for p in parts):
            conv.turns.append(
                (
                    "tool",
                    json.dumps([p["functionResponse"] for p in parts if "functionResponse" in p]),
                )
            )
            continue
        role = "assistant" if item.get("role") == "model" else "user"
        conv.turns.append((role, "".join(p.get("text", "") for p in parts)))
    last_parts = contents[-1].get("parts", []) if contents else []
    conv.last_is_tool_result = any("functionResponse" in p for p in last_parts)
    if conv.last_is_tool_result:
        conv.tool_result_name = next(
            p["functionResponse"].get("name") for p in last_parts if "functionResponse" in p
        )
    for tool in body.get("tools") or []:
        for decl in tool.get("functionDeclarations") or tool.get("function_declarations") or []:
            conv.tools.append(
                {
                    "name": decl["name"],
                    "parameters": decl.get("parametersJsonSchema")
                    or decl.get("parameters_json_schema")
                    or decl.get("parameters"),
                }
            )
    schema = (
        config.get("responseJsonSchema")
        or config.get("response_json_schema")
        or config.get("responseSchema")
    )
    if schema is not None:
        conv.schema = _lower_types(schema)
    elif config.get("responseMimeType") == "application/json":
        conv.schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    return conv, None


def _lower_types(schema: Any) -> Any:
    """Gemini's OpenAPI-style schemas spell types in capitals (STRING); JSON schema does not."""
    if isinstance(schema, dict):
        return {
            k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema


def _gemini_usage(result: Answer, input_tokens: str) -> dict[str, Any]:
    out = _output_tokens(result)
    return {
        "promptTokenCount": int(input_tokens),
        "candidatesTokenCount": out,
        "totalTokenCount": int(input_tokens) + out,
    }


def _gemini_finish(result: Answer) -> str:
    return "MAX_TOKENS" if result.finish_reason == "length" else "STOP"


def gemini_render(
    model: str, result: Answer, conv: Conversation, input_tokens: str
) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if result.text or result.structured is not None:
        parts.append({"text": _answer_text(result)})
    parts += [{"functionCall": {"name": name, "args": args}} for _, name, args in result.tool_calls]
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": parts},
                "finishReason": _gemini_finish(result),
                "index": 0,
            }
        ],
        "usageMetadata": _gemini_usage(result, input_tokens),
        "modelVersion": model,
        "responseId": uuid.uuid4().hex[:16],
    }


def gemini_stream(
    model: str, result: Answer, conv: Conversation, input_tokens: str, pieces: list[str]
) -> list[str]:
    events = []
    texts = pieces if result.structured is None else [_answer_text(result)]
    for piece in texts:
        events.append(
            _sse(
                {
                    "candidates": [
                        {"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}
                    ],
                    "modelVersion": model,
                }
            )
        )
    final = gemini_render(
        model,
        Answer(tool_calls=result.tool_calls, finish_reason=result.finish_reason),
        conv,
        input_tokens,
    )
    final["usageMetadata"] = _gemini_usage(result, input_tokens)
    if not final["candidates"][0]["content"]["parts"]:
        final["candidates"][0]["content"]["parts"] = [{"text": ""}]
    events.append(_sse(final))
    return events
