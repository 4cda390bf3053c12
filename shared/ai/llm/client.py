"""The one entry to LLM calls for the whole product: guards, context fitting, cache, budget,
routing, cost and usage records, in that order.

Callers say who they serve (:class:`CallContext`: tenant, feature, CRM object, template) and
what they ask (:class:`~shared.ai.llm.types.LLMRequest`); they never name a provider.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.ai.llm import genai_metrics
from shared.ai.llm.cache import cache_key
from shared.ai.llm.context import fit_to_window
from shared.ai.llm.errors import AllProvidersFailed, BudgetExceeded, LLMError
from shared.ai.llm.guards import check_untrusted, redact_pii
from shared.ai.llm.ledger import Reservation, UsageRecord, new_call_id
from shared.ai.llm.policy import LLMPolicy
from shared.ai.llm.schema import matches_schema
from shared.ai.llm.tokens import estimate_request_tokens
from shared.ai.llm.types import (
    CallContext,
    LLMRequest,
    LLMResponse,
    Message,
    StreamChunk,
    SummaryPrompt,
    Usage,
)
from shared.core import tracing
from shared.core.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.ai.llm.cache import ResponseCache
    from shared.ai.llm.catalog import Catalog, ModelInfo
    from shared.ai.llm.ledger import Ledger
    from shared.ai.llm.policy import PolicyStore
    from shared.ai.llm.router import Router
    from shared.ai.llm.semantic_cache import SemanticCache

_log = get_logger("llm")


class LLMClient:
    """The one entry to LLM calls: guards, context fitting, caches, budget, routing with failover,
    cost and usage records, in that order. Callers say whom a call serves (:class:`CallContext`) and
    what they ask; they never name a provider."""

    def __init__(
        self,
        router: Router,
        *,
        ledger: Ledger | None = None,
        policies: PolicyStore | None = None,
        cache: ResponseCache | None = None,
        semantic_cache: SemanticCache | None = None,
        summary_prompt: Callable[[str], SummaryPrompt] | None = None,
    ) -> None:
        """``summary_prompt(transcript)`` builds the request that summarises the turns a request
        too long for its models' window drops; without it they are dropped unsummarised."""
        self.router = router
        self.catalog: Catalog = router.catalog
        self._ledger = ledger
        self._policies = policies
        self._cache = cache
        self._semantic = semantic_cache
        self._summary_prompt = summary_prompt

    # --- public ---------------------------------------------------------------------------------
    @property
    def ledger(self) -> Ledger | None:
        """The budget and usage ledger, when this client books usage."""
        return self._ledger

    def policy_for(self, tenant_id: str) -> LLMPolicy:
        """The tenant's LLM policy (defaults when the client has no policy store)."""
        return self._policies.get(tenant_id) if self._policies is not None else LLMPolicy()

    def worst_case_usd(self, request: LLMRequest) -> float:
        """The most this request can cost on any model it may be routed to."""
        return self._worst_case_usd(request)

    def complete(self, request: LLMRequest, ctx: CallContext) -> LLMResponse:
        """Answer one request.

        Raises:
            BudgetExceeded (402), PromptRejected (422), ContextTooLong (413),
            AllProvidersFailed (503, retryable) unless ``ctx.fallback`` is set.
        """
        with tracing.span(f"llm {ctx.feature}", attributes=_present(_span_attributes(ctx))):
            return self._complete(request, ctx)

    def _complete(self, request: LLMRequest, ctx: CallContext) -> LLMResponse:
        policy = self._policy(ctx)
        request = self._prepare(request, ctx, policy)
        key = cache_key(request) if ctx.cache and self._cache is not None else None
        hit = (
            self._cache.get(ctx.tenant_id, key)
            if key is not None and self._cache is not None
            else None
        )
        semantic = self._semantic if ctx.semantic_cache and not request.tools else None
        cache = "exact" if hit is not None else "none"
        if hit is None and semantic is not None:
            hit = semantic.get(ctx.tenant_id, request)
            cache = "semantic" if hit is not None else "miss"
        elif hit is None and key is not None:
            cache = "miss"
        if hit is not None:
            hit = hit.model_copy(
                update={"cache_hit": True, "cost_usd": 0.0, "latency_ms": 0.0, "attempts": 0}
            )
            self._record(ctx, hit, "ok", cache=cache)
            return hit
        request, reservation = self._reserve(request, ctx, policy)
        try:
            response = self.router.complete(request)
        except AllProvidersFailed:
            self._settle(reservation, policy, Usage(), 0.0)
            self._record_failure(ctx, request, "error")
            if ctx.fallback is not None:
                return ctx.fallback.model_copy(update={"fallback": True, "provider": "fallback"})
            raise
        except LLMError:
            self._settle(reservation, policy, Usage(), 0.0)
            self._record_failure(ctx, request, "error")
            raise
        response.cost_usd = self.catalog.cost(
            response.model, response.usage, datetime.now(UTC).date()
        )
        if request.response_schema is not None:
            response.schema_valid = matches_schema(request.response_schema, response.structured)
        self._settle(reservation, policy, response.usage, response.cost_usd)
        if policy.trace_content:
            # The tenant allowed text on its traces (the prompt as sent: redacted if pii=redact).
            sent = [{"role": m.role, "content": m.content[:4000]} for m in request.messages]
            tracing.annotate(
                {
                    "gen_ai.input.messages": json.dumps(sent)[:16000],
                    "gen_ai.output.messages": json.dumps(
                        [{"role": "assistant", "content": response.text[:8000]}]
                    ),
                }
            )
        self._record(ctx, response, "ok", cache=cache)
        if response.finish_reason != "length":  # a cut answer is not worth serving again
            if key is not None and self._cache is not None:
                self._cache.put(ctx.tenant_id, key, response)
            if semantic is not None:
                semantic.put(ctx.tenant_id, request, response)
        return response

    def stream(self, request: LLMRequest, ctx: CallContext) -> Iterator[StreamChunk]:
        """Stream one answer: deltas, then a final chunk with usage (and ``cost_usd`` in the log).

        Raises:
            as :meth:`complete`; errors before the first chunk surface on first iteration.
        """
        with tracing.span(f"llm {ctx.feature}", attributes=_present(_span_attributes(ctx))):
            yield from self._stream(request, ctx)

    def _stream(self, request: LLMRequest, ctx: CallContext) -> Iterator[StreamChunk]:
        policy = self._policy(ctx)
        request = self._prepare(request, ctx, policy)
        request, reservation = self._reserve(request, ctx, policy)
        start = time.perf_counter()
        delivered, final, ttft_ms = "", None, None
        try:
            for chunk in self.router.stream(request):
                if chunk.delta and ttft_ms is None:
                    ttft_ms = (time.perf_counter() - start) * 1000
                delivered += chunk.delta
                if chunk.usage is not None:
                    final = chunk
                yield chunk
        finally:
            # Also on failure or when the consumer stops early: bill what was used, release the rest.
            usage = (
                final.usage
                if final is not None and final.usage
                else Usage(
                    input_tokens=estimate_request_tokens(request), output_tokens=len(delivered) // 4
                )
            )
            model = (
                final.model
                if final is not None
                else (request.model or self.router.candidates(request)[0].id)
            )
            cost = self.catalog.cost(model, usage, datetime.now(UTC).date())
            self._settle(reservation, policy, usage, cost)
            response = LLMResponse(
                text="",
                usage=usage,
                provider=final.provider if final else "",
                model=model,
                cost_usd=cost,
                latency_ms=(time.perf_counter() - start) * 1000,
            )
            self._record(ctx, response, "ok" if final is not None else "error", ttft_ms=ttft_ms)

    # --- steps ----------------------------------------------------------------------------------
    def _policy(self, ctx: CallContext) -> LLMPolicy:
        return self.policy_for(ctx.tenant_id)

    def _prepare(self, request: LLMRequest, ctx: CallContext, policy: LLMPolicy) -> LLMRequest:
        untrusted = [m.content for m in request.messages if not m.trusted]
        check_untrusted(untrusted, policy.injection, tenant_id=ctx.tenant_id, feature=ctx.feature)
        if policy.pii == "redact":
            messages = [
                m.model_copy(update={"content": redact_pii(m.content)[0]}) for m in request.messages
            ]
            request = request.model_copy(update={"messages": messages})
        window = max(m.context_window for m in self._eligible(request))
        summarise = None
        if ctx.summarise_overflow and self._summary_prompt is not None:
            summarise = self._summarise(ctx, self._summary_prompt)
        return fit_to_window(request, window, summarise=summarise)

    def _eligible(self, request: LLMRequest) -> list[ModelInfo]:
        names = (request.model,) if request.model else self.catalog.tier(request.tier).models
        return [
            self.catalog.models[n]
            for n in names
            if self.catalog.models[n].provider in self.router.providers
        ]

    def _summarise(
        self, ctx: CallContext, prompt: Callable[[str], SummaryPrompt]
    ) -> Callable[[list[Message]], str]:
        def run(messages: list[Message]) -> str:
            transcript = "\n".join(f"{m.role}: {m.content}" for m in messages)
            summary_prompt = prompt(transcript[-200_000:])
            summary = self.complete(
                summary_prompt.request,
                CallContext(
                    tenant_id=ctx.tenant_id,
                    feature=ctx.feature,
                    crm_object=ctx.crm_object,
                    template_id=summary_prompt.template_id,
                    template_version=summary_prompt.template_version,
                    summarise_overflow=False,
                ),
            )
            return summary.text

        return run

    def _worst_case_usd(self, request: LLMRequest) -> float:
        tokens_in = estimate_request_tokens(request)
        today = datetime.now(UTC).date()
        return max(
            self.catalog.cost(
                m.id, Usage(input_tokens=tokens_in, output_tokens=request.max_tokens), today
            )
            for m in self._eligible(request)
        )

    def _reserve(
        self, request: LLMRequest, ctx: CallContext, policy: LLMPolicy
    ) -> tuple[LLMRequest, Reservation | None]:
        if self._ledger is None:
            return request, None
        tokens = estimate_request_tokens(request) + request.max_tokens
        try:
            return request, self._ledger.reserve(
                ctx.tenant_id,
                ctx.feature,
                policy,
                tokens,
                self._worst_case_usd(request),
                leased=True,
            )
        except BudgetExceeded:
            cheaper = policy.degrade_to_tier
            if cheaper is None or cheaper == request.tier or request.model is not None:
                self._record_failure(ctx, request, "budget_exceeded")
                raise
            _log.info(
                "over budget: degrading",
                extra={"fields": {"from_tier": request.tier, "to_tier": cheaper}},
            )
            degraded = request.model_copy(update={"tier": cheaper})
            try:
                reservation = self._ledger.reserve(
                    ctx.tenant_id,
                    ctx.feature,
                    policy,
                    tokens,
                    self._worst_case_usd(degraded),
                    leased=True,
                )
            except BudgetExceeded:
                self._record_failure(ctx, request, "budget_exceeded")
                raise
            return degraded, reservation

    def _settle(
        self, reservation: Reservation | None, policy: LLMPolicy, usage: Usage, usd: float
    ) -> None:
        if self._ledger is not None and reservation is not None:
            self._ledger.settle(reservation, policy, usage.input_tokens + usage.output_tokens, usd)

    def _record(
        self,
        ctx: CallContext,
        response: LLMResponse,
        outcome: str,
        ttft_ms: float | None = None,
        *,
        cache: str = "none",
    ) -> None:
        fields = {
            "tenant_id": ctx.tenant_id,
            "feature": ctx.feature,
            "provider": response.provider,
            "model": response.model,
            "input_tokens": response.usage.input_tokens,
            "output_tokens": response.usage.output_tokens,
            "cost_usd": response.cost_usd,
            "latency_ms": round(response.latency_ms, 1),
            "cache_hit": response.cache_hit,
            "cache": cache,  # exact or semantic (a hit), miss (looked), none (not asked to)
            "attempts": response.attempts,
            "failover": response.fallback,
            "outcome": outcome,
            "schema_valid": response.schema_valid,
            "batch": response.batch,
        }
        extra = {"ttft_ms": round(ttft_ms, 1)} if ttft_ms is not None else {}
        if not response.cache_hit:
            genai_metrics.record_call(
                provider=response.provider,
                request_model=response.model,
                response_model=response.model if outcome == "ok" else None,
                seconds=response.latency_ms / 1000,
                input_tokens=response.usage.input_tokens,
                output_tokens=response.usage.output_tokens,
                cost_usd=response.cost_usd,
                feature=ctx.feature,
                error_type=None if outcome == "ok" else outcome,
            )
        tracing.annotate(
            {
                "crm_ai.cost_usd": response.cost_usd,
                "crm_ai.cache_hit": response.cache_hit,
                "crm_ai.outcome": outcome,
                "gen_ai.response.model": response.model or None,
                "gen_ai.usage.input_tokens": response.usage.input_tokens,
                "gen_ai.usage.output_tokens": response.usage.output_tokens,
            }
        )
        _log.info("llm call", extra={"fields": {"metric": "llm_call", **fields, **extra}})
        if self._ledger is None:
            return
        self._ledger.record(
            UsageRecord(
                call_id=new_call_id(),
                crm_object=ctx.crm_object,
                template_id=ctx.template_id,
                template_version=ctx.template_version,
                cached_input_tokens=response.usage.cached_input_tokens,
                at=datetime.now(UTC),
                **fields,  # type: ignore[arg-type]
            )
        )

    def _record_failure(self, ctx: CallContext, request: LLMRequest, outcome: str) -> None:
        self._record(ctx, LLMResponse(model=request.model or request.tier, attempts=0), outcome)


def _present(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}


def _span_attributes(ctx: CallContext) -> dict[str, Any]:
    return {
        "crm_ai.tenant_id": ctx.tenant_id,
        "crm_ai.feature": ctx.feature,
        "crm_ai.template": ctx.template_id,
        "crm_ai.template_version": ctx.template_version,
        "crm_ai.crm_object": ctx.crm_object,
    }
