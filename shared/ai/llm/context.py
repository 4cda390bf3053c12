"""Keeping a conversation inside a model's context window: the system prompt and the most recent
turns stay; older turns are dropped, or summarised by a cheap tier when a summariser is given."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.ai.llm.errors import ContextTooLong
from shared.ai.llm.tokens import estimate_message, estimate_request_tokens
from shared.ai.llm.types import Message

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.ai.llm.types import LLMRequest

SUMMARY_PREFIX = "Summary of the earlier conversation: "


def fit_to_window(
    request: LLMRequest,
    window: int,
    *,
    summarise: Callable[[list[Message]], str] | None = None,
) -> LLMRequest:
    """Return ``request`` trimmed so that its prompt plus ``max_tokens`` fits ``window``.

    Raises:
        ContextTooLong: even the system prompt and the last turn alone do not fit.
    """
    budget = window - request.max_tokens
    if estimate_request_tokens(request) <= budget:
        return request
    fixed = estimate_request_tokens(request.model_copy(update={"messages": []}))
    kept: list[Message] = []
    used = fixed + 200  # room for a summary line
    for message in reversed(request.messages):
        cost = estimate_message(message)
        if used + cost > budget:
            break
        kept.insert(0, message)
        used += cost
    while kept and kept[0].role == "tool":  # a tool result without its call is meaningless
        kept.pop(0)
    if not kept:
        raise ContextTooLong(
            f"the last turn alone needs more than the {window}-token window", field="messages"
        )
    dropped = request.messages[: len(request.messages) - len(kept)]
    if dropped and summarise is not None:
        kept.insert(0, Message(role="user", content=SUMMARY_PREFIX + summarise(dropped)))
    return request.model_copy(update={"messages": kept})
