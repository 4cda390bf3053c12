"""Exact response cache: the same normalised request to the same tier or model, for the same
tenant, within the TTL, is answered from Firestore at no cost (Firestore's TTL policy on
``expires_at`` deletes stale entries)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.ai.llm.types import LLMResponse
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.ai.llm.types import LLMRequest
    from shared.core.store.base import DocumentStore


def cache_key(request: LLMRequest) -> str:
    """A request's exact-match cache key: its content with whitespace runs collapsed, so formatting
    differences still hit."""
    body = request.model_dump(mode="json", exclude={"continuation"})
    for message in body["messages"]:
        message["content"] = " ".join(
            message["content"].split()
        )  # white space does not change meaning
        message.pop("trusted", None)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    """Exact-match answers per tenant in Firestore with an expiry: a repeated deterministic request
    costs nothing."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        ttl: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock

    def get(self, tenant_id: str, key: str) -> LLMResponse | None:
        """The cached answer for ``key``, or None when absent or expired."""
        scope = TenantStore(self._store, tenant_id)
        doc = scope.get(scope.path("llm_cache", key))
        if doc is None or doc["expires_at"] <= self._clock():
            return None
        return LLMResponse.model_validate(doc["response"])

    def put(self, tenant_id: str, key: str, response: LLMResponse) -> None:
        """Keep ``response`` under ``key`` until the cache's time to live passes."""
        scope = TenantStore(self._store, tenant_id)
        scope.set(
            scope.path("llm_cache", key),
            {
                "response": response.model_dump(mode="json"),
                "expires_at": self._clock() + self._ttl,
            },
        )
