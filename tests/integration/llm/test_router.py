"""Routing across the three SDKs and the simulator: retries, Retry-After, breaker, failover."""

from __future__ import annotations

from typing import Any

import pytest

from shared.ai.llm.catalog import Catalog
from shared.ai.llm.errors import AllProvidersFailed, ContextTooLong, ProviderError
from shared.ai.llm.health import HealthBoard
from shared.ai.llm.router import RetryPolicy, Router
from shared.ai.llm.types import LLMRequest, Message
from tests.integration.llm.conftest import SleepLog, providers_for

QUESTION = "Which of our enterprise accounts show churn risk after the pricing change?"


def _req(**kw: Any) -> LLMRequest:
    return LLMRequest(
        messages=[Message(role="user", content=QUESTION)], tier="best", max_tokens=150, **kw
    )


def test_the_first_candidate_answers(router: Router) -> None:
    response = router.complete(_req())
    assert (
        response.model == "claude-sonnet-4-6" and response.attempts == 1 and not response.fallback
    )


def test_a_retryable_failure_is_retried_with_backoff(
    router: Router, sim: Any, sleeps: SleepLog
) -> None:
    sim.post("/_sim/faults", json={"provider": "anthropic", "fault": {"status": 503}, "times": 1})
    response = router.complete(_req())
    assert response.model == "claude-sonnet-4-6" and response.attempts == 2
    assert len(sleeps.calls) == 1 and 0 <= sleeps.calls[0] <= router.policy.base_delay_s


def test_retry_after_is_honoured(router: Router, sim: Any, sleeps: SleepLog) -> None:
    sim.post(
        "/_sim/faults",
        json={"provider": "anthropic", "fault": {"status": 429, "retry_after": 1.5}, "times": 1},
    )
    assert router.complete(_req()).model == "claude-sonnet-4-6"
    assert sleeps.calls == [1.5]


def test_a_long_retry_after_fails_over_at_once(router: Router, sim: Any, sleeps: SleepLog) -> None:
    sim.post(
        "/_sim/faults",
        json={"provider": "anthropic", "fault": {"status": 429, "retry_after": 60}, "times": 5},
    )
    response = router.complete(_req())
    assert response.model == "gpt-4.1" and response.fallback
    assert sleeps.calls == []


@pytest.mark.parametrize(
    "fault", [{"status": 500}, {"status": 529}, {"latency_ms": 1500}, {"invalid_json": True}]
)
def test_persistent_failures_fail_over_to_the_next_provider(
    simulator_url: str, sim: Any, sleeps: SleepLog, fault: dict[str, Any]
) -> None:
    router = Router(
        providers_for(simulator_url), Catalog.load(), RetryPolicy(timeout_s=1), sleep=sleeps
    )
    sim.post("/_sim/faults", json={"provider": "anthropic", "fault": fault, "times": 2})
    response = router.complete(_req())
    assert response.model == "gpt-4.1" and response.attempts == 3 and response.fallback


def test_the_circuit_opens_and_later_probes(simulator_url: str, sim: Any, sleeps: SleepLog) -> None:
    clock = [0.0]
    health = HealthBoard(threshold=2, cooldown_s=30, clock=lambda: clock[0])
    router = Router(
        providers_for(simulator_url),
        Catalog.load(),
        RetryPolicy(timeout_s=5),
        health=health,
        sleep=sleeps,
    )
    sim.post("/_sim/faults", json={"provider": "anthropic", "fault": {"status": 503}, "times": 2})
    assert router.complete(_req()).model == "gpt-4.1"
    before = len(sim.get("/_sim/requests").json()["requests"])
    assert router.complete(_req()).model == "gpt-4.1"  # the open circuit is not even tried
    after = sim.get("/_sim/requests").json()["requests"][before:]
    assert [r["provider"] for r in after] == ["openai"]
    clock[0] = 31
    assert router.complete(_req()).model == "claude-sonnet-4-6"  # the probe succeeds and closes it


def test_context_length_fails_over_to_a_larger_window(
    simulator_url: str, sim: Any, sleeps: SleepLog
) -> None:
    catalog = Catalog(
        {
            "models": {
                "gpt-4.1-mini": {
                    "provider": "openai",
                    "context_window": 8000,
                    "max_output": 1000,
                    "tools": True,
                    "json": True,
                },
                "gemini-2.5-flash": {
                    "provider": "gemini",
                    "context_window": 1000000,
                    "max_output": 1000,
                    "tools": True,
                    "json": True,
                },
            },
            "tiers": {
                "fast": {"strategy": "ordered", "models": ["gpt-4.1-mini", "gemini-2.5-flash"]}
            },
            "prices": [
                {
                    "model": "gpt-4.1-mini",
                    "effective_from": "2025-01-01",
                    "input": 0.4,
                    "cached_input": 0.1,
                    "output": 1.6,
                },
                {
                    "model": "gemini-2.5-flash",
                    "effective_from": "2025-01-01",
                    "input": 0.3,
                    "cached_input": 0.03,
                    "output": 2.5,
                },
            ],
        }
    )
    # The provider's real window is smaller than the catalogue says: it answers with its error.
    sim.post("/_sim/config", json={"context_windows": {"gpt-4.1-mini": 500}})
    router = Router(providers_for(simulator_url), catalog, RetryPolicy(timeout_s=5), sleep=sleeps)
    long_request = LLMRequest(
        messages=[Message(role="user", content="risk " * 1200)], tier="fast", max_tokens=100
    )
    response = router.complete(long_request)
    assert response.model == "gemini-2.5-flash" and response.attempts == 2 and sleeps.calls == []
    with pytest.raises(ContextTooLong):
        router.complete(
            LLMRequest(messages=[Message(role="user", content="x" * 5_000_000)], tier="fast")
        )


def test_every_provider_failing_is_a_clear_retryable_error(router: Router, sim: Any) -> None:
    sim.post("/_sim/faults", json={"provider": "*", "fault": {"status": 503}, "times": 100})
    with pytest.raises(AllProvidersFailed) as info:
        router.complete(_req())
    assert info.value.status_code == 503 and info.value.retryable
    assert "claude-sonnet-4-6" in info.value.message and "gpt-4.1" in info.value.message


def test_an_invalid_request_is_not_retried(router: Router, sim: Any) -> None:
    sim.post("/_sim/faults", json={"provider": "anthropic", "fault": {"status": 400}, "times": 1})
    with pytest.raises(ProviderError):
        router.complete(_req())


def test_stream_fails_over_before_the_first_token(router: Router, sim: Any) -> None:
    sim.post("/_sim/faults", json={"provider": "anthropic", "fault": {"status": 503}, "times": 2})
    chunks = list(router.stream(_req()))
    assert chunks[-1].model == "gpt-4.1"
    assert "".join(c.delta for c in chunks) == router.complete(_req(model="gpt-4.1")).text


def test_stream_broken_mid_way_continues_on_another_provider(router: Router, sim: Any) -> None:
    whole = router.complete(_req()).text
    sim.post(
        "/_sim/faults", json={"provider": "anthropic", "fault": {"disconnect_after": 8}, "times": 2}
    )
    chunks = list(router.stream(_req()))
    text = "".join(c.delta for c in chunks)
    final = chunks[-1]
    assert final.model == "gpt-4.1"  # claude broke twice; gpt continued from the partial text
    # The caller sees one answer: claude's first part, then gpt's continuation of it.
    assert text.startswith(whole[:20]) and len(text) > len(whole) // 2
    assert final.usage is not None and final.usage.input_tokens > 0
    assert sum(1 for c in chunks if c.usage is not None) == 1
