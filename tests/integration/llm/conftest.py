"""The real SDKs against the simulator process."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from shared.ai.llm.catalog import Catalog
from shared.ai.llm.providers.anthropic_provider import AnthropicProvider
from shared.ai.llm.providers.base import Endpoint
from shared.ai.llm.providers.gemini_provider import GeminiProvider
from shared.ai.llm.providers.openai_provider import OpenAIProvider
from shared.ai.llm.router import RetryPolicy, Router

if TYPE_CHECKING:
    from collections.abc import Iterator

    from shared.ai.llm.providers.base import Provider

MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


_OPEN: list[Provider] = []


def providers_for(url: str) -> dict[str, Provider]:
    """The three adapters pointed at the simulator; closed after each test."""
    made: dict[str, Provider] = {
        "openai": OpenAIProvider(Endpoint("sim", f"{url}/v1", simulated=True)),
        "anthropic": AnthropicProvider(Endpoint("sim", url, simulated=True)),
        "gemini": GeminiProvider(Endpoint("sim", url, simulated=True)),
    }
    _OPEN.extend(made.values())
    return made


@pytest.fixture(autouse=True)
def _close_providers() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


class SleepLog:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepLog:
    return SleepLog()


@pytest.fixture
def router(simulator_url: str, sim: object, sleeps: SleepLog) -> Router:
    # Backoff waits are recorded rather than slept: the tests check the policy, not the clock.
    return Router(
        providers_for(simulator_url), Catalog.load(), RetryPolicy(timeout_s=5), sleep=sleeps
    )
