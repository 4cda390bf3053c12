"""Token estimates without downloading tokenizer files (nothing may be fetched at run time).

English text averages about four characters a token with the OpenAI, Anthropic and Gemini
tokenisers; each message adds a few tokens of framing. Estimates decide routing (does the prompt
fit?), trimming and budget reservations; the provider's own usage numbers are what is billed.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.ai.llm.types import LLMRequest, Message

CHARS_PER_TOKEN = 4.0
PER_MESSAGE = 4


def estimate_text(text: str) -> int:
    """A provider-neutral token estimate of ``text`` (characters / 4, rounded up): for budgets and
    window fitting, not billing."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def estimate_message(message: Message) -> int:
    """A message's estimated tokens, tool calls and per-message overhead included."""
    calls = sum(estimate_text(json.dumps(c.arguments)) + 8 for c in message.tool_calls)
    return estimate_text(message.content) + calls + PER_MESSAGE


def estimate_request_tokens(request: LLMRequest) -> int:
    """A request's estimated input tokens: system prompt, messages and tool definitions."""
    total = estimate_text(request.system or "") + PER_MESSAGE
    total += sum(estimate_message(m) for m in request.messages)
    total += sum(
        estimate_text(json.dumps(t.parameters)) + estimate_text(t.description) + 8
        for t in request.tools
    )
    if request.response_schema is not None:
        total += estimate_text(json.dumps(request.response_schema))
    if request.continuation:
        total += estimate_text(request.continuation) + 2 * PER_MESSAGE
    return total
