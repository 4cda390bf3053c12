"""A tenant's LLM policy: budgets, degradation, and guard settings, in one Firestore document
(``tenants/{tenant}/settings/llm``), read through a short in-process cache."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from shared.core.store.base import DocumentStore

POLICY_PATH = ("settings", "llm")


class Limit(BaseModel):
    """A monthly budget in USD and or tokens (None: no limit)."""

    monthly_usd: float | None = Field(default=None, ge=0)
    monthly_tokens: int | None = Field(default=None, ge=0)


class LLMPolicy(BaseModel):
    """A tenant's LLM policy: budgets overall and per feature, the tier to degrade to when over
    budget, and how prompt injection and PII are handled."""

    budget: Limit = Field(default_factory=Limit)
    feature_budgets: dict[str, Limit] = Field(default_factory=dict)
    degrade_to_tier: str | None = None  # over budget: retry on this cheaper tier instead of failing
    injection: Literal["off", "flag", "block"] = "flag"
    pii: Literal["off", "redact"] = "off"
    alert_thresholds: list[int] = Field(default_factory=lambda: [50, 80, 100])
    # Prompt and completion text on the call's trace span (after PII redaction when ``pii`` is
    # "redact"). Off: spans carry counts, models and costs, never text (issue 17).
    trace_content: bool = False

    @property
    def has_limits(self) -> bool:
        """Whether any budget is set (without one, calls skip the reservation)."""
        limits = [self.budget, *self.feature_budgets.values()]
        return any(x.monthly_usd is not None or x.monthly_tokens is not None for x in limits)


class PolicyStore:
    """Tenants' LLM policies in Firestore, cached per process for ``ttl_s`` (read on every call)."""

    def __init__(self, store: DocumentStore, *, ttl_s: float = 30.0) -> None:
        self._store = store
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, LLMPolicy]] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: str) -> LLMPolicy:
        """The tenant's policy (the defaults when none is stored)."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(tenant_id)
            if hit and now - hit[0] < self._ttl:
                return hit[1]
        scope = TenantStore(self._store, tenant_id)
        data = scope.get(scope.path(*POLICY_PATH))
        policy = LLMPolicy.model_validate(data or {})
        with self._lock:
            self._cache[tenant_id] = (now, policy)
        return policy

    def put(self, tenant_id: str, policy: LLMPolicy) -> None:
        """Store the tenant's policy; this process sees it at once, others within the cache's time
        to live."""
        scope = TenantStore(self._store, tenant_id)
        scope.set(scope.path(*POLICY_PATH), policy.model_dump(mode="json"))
        with self._lock:
            self._cache.pop(tenant_id, None)
