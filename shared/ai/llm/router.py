"""Routing one request across providers: candidate choice, retries, circuit breaking, failover.

For a request the router takes the tier's models (or the pinned model), drops those that lack a
needed capability, cannot hold the prompt, or whose circuit is open, and orders the rest by the
tier's strategy (listed order, price, or observed latency). Each candidate gets up to
``attempts_per_model`` tries with exponential backoff and full jitter, honouring Retry-After
up to ``max_retry_wait_s``; then the next candidate. A context-length failure moves straight to
a model with a larger window. A stream that fails before its first token fails over like any
call; one that breaks mid-way is continued by the next attempt from the partial output, so the
caller sees one uninterrupted answer.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared.ai.llm.errors import (
    RETRYABLE,
    AllProvidersFailed,
    ContextTooLong,
    FailureKind,
    ProviderError,
)
from shared.ai.llm.genai_metrics import PROVIDER_NAMES
from shared.ai.llm.health import HealthBoard
from shared.ai.llm.tokens import estimate_request_tokens, estimate_text
from shared.ai.llm.types import LLMResponse, StreamChunk, Usage
from shared.core import tracing
from shared.core.log import get_logger

if TYPE_CHECKING:
    from shared.ai.llm.catalog import Catalog, ModelInfo
    from shared.ai.llm.providers.base import Provider
    from shared.ai.llm.types import LLMRequest

_log = get_logger("llm.router")


@dataclass
class _Floor:
    """The smallest context window still worth trying (raised by a context-length failure)."""

    tokens: int = 0


@dataclass
class RetryPolicy:
    """How hard the router tries: attempts per model, backoff, and the longest provider-requested
    wait it honours before failing over."""

    attempts_per_model: int = 2
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    max_retry_wait_s: float = 5.0
    timeout_s: float = 60.0


@dataclass
class Router:
    """Picks a model of the request's tier by the tier's strategy, retries transient failures with
    backoff, and fails over across models and providers, skipping open circuits."""

    providers: dict[str, Provider]
    catalog: Catalog
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    health: HealthBoard = field(default_factory=HealthBoard)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def close(self) -> None:
        """Close every provider's connections (tests, process shutdown)."""
        for provider in self.providers.values():
            provider.close()

    # --- choosing -------------------------------------------------------------------------------
    def candidates(self, request: LLMRequest, *, min_window: int = 0) -> list[ModelInfo]:
        """The models to try for ``request``, best first."""
        if request.model is not None:
            if request.model not in self.catalog.models:
                raise ProviderError(
                    f"unknown model {request.model}",
                    kind=FailureKind.INVALID_REQUEST,
                    provider="",
                    model=request.model,
                )
            names: tuple[str, ...] = (request.model,)
            strategy = "ordered"
        else:
            tier = self.catalog.tier(request.tier)
            names, strategy = tier.models, tier.strategy
        need = estimate_request_tokens(request) + request.max_tokens
        infos = [self.catalog.models[n] for n in names]
        usable = [
            m
            for m in infos
            if m.provider in self.providers
            and (m.tools or not request.tools)
            and (m.json or request.response_schema is None)
        ]
        if not usable:
            raise AllProvidersFailed(
                f"no configured provider serves tier {request.tier!r} with these capabilities"
            )
        fitting = [m for m in usable if m.context_window >= max(need, min_window)]
        if not fitting:
            largest = max(m.context_window for m in usable)
            raise ContextTooLong(
                f"the prompt needs about {need} tokens; the largest eligible model takes {largest}"
            )
        today = datetime.now(UTC).date()
        if strategy == "cost":
            fitting.sort(
                key=lambda m: (
                    self.catalog.price(m.id, today).input + self.catalog.price(m.id, today).output
                )
            )
        elif strategy == "latency":
            fitting.sort(key=lambda m: self.health.latency(m.id) or float("inf"))
        # Open circuits go last rather than vanish: if every model is open, probing one beats failing.
        fitting.sort(key=lambda m: self.health.is_open(m.id))
        return fitting

    def _backoff(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before the next try on the same model, or None to fail over now."""
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.policy.max_retry_wait_s else None
        cap = min(self.policy.max_delay_s, self.policy.base_delay_s * 2**attempt)
        return self.rng.uniform(0, cap)

    # --- calling --------------------------------------------------------------------------------
    def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer ``request`` from the first candidate that succeeds.

        Raises:
            AllProvidersFailed: every candidate failed (503, retry later).
            ContextTooLong: no eligible model can hold the prompt.
            ProviderError: the request itself is invalid (never retried).
        """
        attempts, errors, floor = 0, [], _Floor()
        start = time.perf_counter()
        tried_fallback = False
        for info in self._walk(request, floor):
            for attempt in range(self.policy.attempts_per_model):
                if not self.health.allow(info.id):
                    break
                attempts += 1
                t0 = time.perf_counter()
                try:
                    with tracing.span(
                        f"chat {info.id}", kind="client", attributes=_gen_ai(info, attempt)
                    ):
                        response = self.providers[info.provider].complete(
                            info.id, request, timeout=self.policy.timeout_s
                        )
                        tracing.annotate(
                            {
                                "gen_ai.response.model": response.model or None,
                                "gen_ai.response.finish_reasons": [response.finish_reason],
                                "gen_ai.usage.input_tokens": response.usage.input_tokens,
                                "gen_ai.usage.output_tokens": response.usage.output_tokens,
                            }
                        )
                except ProviderError as exc:
                    errors.append(exc)
                    stop, floor.tokens = self._after_failure(info, exc, attempt, floor.tokens)
                    if stop:
                        break
                    continue
                self.health.success(info.id, (time.perf_counter() - t0) * 1000)
                response.attempts, response.fallback = attempts, tried_fallback
                response.latency_ms = (time.perf_counter() - start) * 1000
                return response
            tried_fallback = True
        raise self._exhausted(errors)

    def stream(self, request: LLMRequest) -> Iterator[StreamChunk]:
        """Stream ``request``: text deltas, then one final chunk with the summed usage.

        Raises:
            AllProvidersFailed, ContextTooLong, ProviderError: as :meth:`complete`.
        """
        partial, usage, errors, floor = "", Usage(), [], _Floor()
        for info in self._walk(request, floor):
            for attempt in range(self.policy.attempts_per_model):
                if not self.health.allow(info.id):
                    break
                call = request.model_copy(update={"continuation": partial or None})
                t0 = time.perf_counter()
                got_text, before = False, len(partial)
                try:
                    with tracing.span(
                        f"chat {info.id}", kind="client", attributes=_gen_ai(info, attempt)
                    ):
                        for chunk in self.providers[info.provider].stream(
                            info.id, call, timeout=self.policy.timeout_s
                        ):
                            if chunk.delta:
                                got_text = True
                                partial += chunk.delta
                                yield chunk
                            if chunk.usage is not None:
                                usage = usage + chunk.usage
                                self.health.success(info.id, (time.perf_counter() - t0) * 1000)
                                tracing.annotate(
                                    {
                                        "gen_ai.usage.input_tokens": chunk.usage.input_tokens,
                                        "gen_ai.usage.output_tokens": chunk.usage.output_tokens,
                                    }
                                )
                                yield chunk.model_copy(update={"usage": usage, "delta": ""})
                                return
                    raise ProviderError(
                        f"{info.id}: stream ended without a final chunk",
                        kind=FailureKind.BAD_RESPONSE,
                        provider=info.provider,
                        model=info.id,
                    )
                except ProviderError as exc:
                    errors.append(exc)
                    if got_text:
                        # The provider bills a broken stream too; count what we can estimate.
                        usage = usage + Usage(
                            input_tokens=estimate_request_tokens(call),
                            output_tokens=estimate_text(partial[before:]),
                        )
                        _log.warning(
                            "stream broke after %d chars; continuing on the next attempt",
                            len(partial),
                            extra={"fields": {"model": info.id, "failure": exc.kind.value}},
                        )
                    stop, floor.tokens = self._after_failure(info, exc, attempt, floor.tokens)
                    if stop:
                        break
        raise self._exhausted(errors)

    # --- helpers --------------------------------------------------------------------------------
    def _walk(self, request: LLMRequest, floor: _Floor) -> Iterator[ModelInfo]:
        """Candidates in order; after a context-length failure only larger windows are offered."""
        seen: set[str] = set()
        while True:
            fresh = [
                m for m in self.candidates(request, min_window=floor.tokens) if m.id not in seen
            ]
            if not fresh:
                return
            seen.add(fresh[0].id)
            yield fresh[0]

    def _after_failure(
        self, info: ModelInfo, exc: ProviderError, attempt: int, min_window: int
    ) -> tuple[bool, int]:
        """Record ``exc``; return (move to the next model?, the minimum context window from now)."""
        _log.info(
            "LLM call failed",
            extra={
                "fields": {
                    "metric": "llm_attempt_failed",
                    "provider": info.provider,
                    "model": info.id,
                    "failure": exc.kind.value,
                    "status": exc.status,
                    "attempt": attempt + 1,
                }
            },
        )
        if exc.kind == FailureKind.CONTEXT_LENGTH:
            return True, info.context_window + 1
        if exc.kind not in RETRYABLE:
            if exc.kind == FailureKind.AUTH:
                self.health.failure(info.id)
                return True, min_window
            raise exc
        self.health.failure(info.id)
        if attempt + 1 >= self.policy.attempts_per_model:
            return True, min_window
        wait = self._backoff(attempt, exc)
        if wait is None:
            return True, min_window
        self.sleep(wait)
        return False, min_window

    @staticmethod
    def _exhausted(errors: list[ProviderError]) -> AllProvidersFailed:
        summary = (
            "; ".join(f"{e.model}: {e.kind.value}" for e in errors[-6:])
            or "no candidate was available"
        )
        return AllProvidersFailed(f"every LLM provider failed ({summary}); retry later")


def _gen_ai(info: ModelInfo, attempt: int) -> dict[str, object]:
    """A provider attempt's span attributes, by OpenTelemetry's GenAI semantic conventions.
    Prompt and completion text are never set (PII)."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": PROVIDER_NAMES.get(info.provider, info.provider),
        "gen_ai.request.model": info.id,
        "crm_ai.attempt": attempt + 1,
    }
