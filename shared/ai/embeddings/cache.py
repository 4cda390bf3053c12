"""An embedding cache keyed by content hash and model id, per tenant, in Firestore."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from typing_extensions import override

from shared.ai.embeddings.base import Embedder
from shared.core.log import log_cache_lookup
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from shared.core.store.base import DocumentStore


class CachedEmbedder(Embedder):
    """Wraps an embedder: texts seen before (same model) are read back instead of recomputed."""

    def __init__(self, inner: Embedder, store: DocumentStore, tenant_id: str) -> None:
        self._inner = inner
        self._scope = TenantStore(store, tenant_id)
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.hits = 0
        self.misses = 0

    def _path(self, text: str) -> str:
        digest = hashlib.sha256(f"{self.model_id}\x1f{text}".encode()).hexdigest()
        return self._scope.path("embedding_cache", digest)

    @override
    def embed(self, texts: list[str]) -> list[list[float]]:
        paths = [self._path(t) for t in texts]
        found = self._scope.get_many(paths)
        missing = [i for i, doc in enumerate(found) if doc is None]
        fresh = self._inner.embed([texts[i] for i in missing]) if missing else []
        for i, vector in zip(missing, fresh, strict=True):
            self._scope.set(paths[i], {"model_id": self.model_id, "vector": vector})
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        log_cache_lookup("embedding", len(texts) - len(missing), len(missing))
        by_index = dict(zip(missing, fresh, strict=True))
        return [by_index[i] if doc is None else list(doc["vector"]) for i, doc in enumerate(found)]
