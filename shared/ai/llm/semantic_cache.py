"""Opt-in semantic response cache: a question phrased differently from one answered before (same
tenant, same instructions, tools and schema) is served the earlier answer when the embeddings of
the two questions are at least ``threshold`` similar (cosine). Firestore vector search does the
lookup; entries expire by TTL like the exact cache."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.ai.embeddings.cache import CachedEmbedder
from shared.ai.llm.types import LLMResponse
from shared.core.store.base import Vector
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.ai.embeddings.base import Embedder
    from shared.ai.llm.types import LLMRequest
    from shared.core.store.base import DocumentStore

COLLECTION = "llm_semantic_cache"


def _split(request: LLMRequest) -> tuple[str, str] | None:
    """(fingerprint of everything but the last user question, that question), or None."""
    if not request.messages or request.messages[-1].role != "user":
        return None
    context = request.model_dump(mode="json", exclude={"continuation"})
    question = context["messages"].pop()["content"]
    fingerprint = hashlib.sha256(json.dumps(context, sort_keys=True).encode()).hexdigest()
    return fingerprint, question


class SemanticCache:
    """Answers reused for differently phrased questions: the last user question is embedded and a
    cached answer at least ``threshold`` similar (with the same rest of the request) is served.
    Opt-in per call."""

    def __init__(
        self,
        store: DocumentStore,
        embedder: Embedder,
        *,
        threshold: float = 0.92,
        ttl: timedelta = timedelta(hours=6),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._embedder = embedder
        self.threshold = threshold
        self._ttl = ttl
        self._clock = clock

    def _vector(self, tenant_id: str, text: str) -> list[float]:
        return CachedEmbedder(self._embedder, self._store, tenant_id).embed([text])[0]

    def get(self, tenant_id: str, request: LLMRequest) -> LLMResponse | None:
        """A cached answer to a question close enough to this request's, or None."""
        split = _split(request)
        if split is None:
            return None
        fingerprint, question = split
        scope = TenantStore(self._store, tenant_id)
        rows = scope.nearest(
            scope.path(COLLECTION),
            field="embedding",
            vector=self._vector(tenant_id, question),
            limit=1,
            where=[("fingerprint", "==", fingerprint), ("model_id", "==", self._embedder.model_id)],
        )
        if not rows:
            return None
        _, doc, distance = rows[0]
        if 1.0 - distance < self.threshold or doc["expires_at"] <= self._clock():
            return None
        return LLMResponse.model_validate(doc["response"])

    def put(self, tenant_id: str, request: LLMRequest, response: LLMResponse) -> None:
        """Keep ``response`` for questions like this request's."""
        split = _split(request)
        if split is None:
            return
        fingerprint, question = split
        scope = TenantStore(self._store, tenant_id)
        scope.set(
            scope.path(COLLECTION, uuid.uuid4().hex),
            {
                "fingerprint": fingerprint,
                "model_id": self._embedder.model_id,
                "question": question[:2000],
                "embedding": Vector(self._vector(tenant_id, question)),
                "response": response.model_dump(mode="json"),
                "expires_at": self._clock() + self._ttl,
            },
        )
