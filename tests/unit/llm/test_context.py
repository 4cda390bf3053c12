from __future__ import annotations

import pytest

from shared.ai.llm.context import SUMMARY_PREFIX, fit_to_window
from shared.ai.llm.errors import ContextTooLong
from shared.ai.llm.tokens import estimate_request_tokens
from shared.ai.llm.types import LLMRequest, Message


def _conversation(turns: int) -> LLMRequest:
    messages = [
        Message(role="user" if i % 2 == 0 else "assistant", content=f"turn {i} " + "word " * 100)
        for i in range(turns)
    ]
    return LLMRequest(system="You are helpful. " * 10, messages=messages, max_tokens=100)


def test_a_fitting_request_is_unchanged() -> None:
    request = _conversation(2)
    assert fit_to_window(request, 100_000) is request


def test_old_turns_are_dropped_system_and_recent_kept() -> None:
    request = _conversation(20)
    trimmed = fit_to_window(request, 1500)
    assert estimate_request_tokens(trimmed) + trimmed.max_tokens <= 1500
    assert trimmed.system == request.system
    assert trimmed.messages[-1] == request.messages[-1]
    assert len(trimmed.messages) < len(request.messages)


def test_dropped_turns_are_summarised_when_asked() -> None:
    seen: list[int] = []

    def summarise(messages: list[Message]) -> str:
        seen.append(len(messages))
        return "they discussed turns"

    trimmed = fit_to_window(_conversation(20), 1500, summarise=summarise)
    assert trimmed.messages[0].content == SUMMARY_PREFIX + "they discussed turns"
    assert seen and seen[0] + len(trimmed.messages) - 1 == 20


def test_impossible_fit_is_refused() -> None:
    with pytest.raises(ContextTooLong):
        fit_to_window(_conversation(1), 150)
