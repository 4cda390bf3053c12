"""Re-embedding after the embedding model changes, in the background.

Every chunk stores the ``model_id`` of the model that embedded it, and vector search only
compares vectors of the current model (keyword search still finds the others). When the
configured model changes, the scheduled job (``functions/insights_jobs``, ``{"job":
"reembed"}``) walks each tenant's chunks whose ``model_id`` differs and embeds their stored text
again, a page at a time until its deadline; the next run goes on where it stopped.

A page is written in one transaction that re-reads each chunk: a chunk rewritten meanwhile
(new text from a CRM event) or deleted is left alone, never overwritten with stale text.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypedDict

from shared.core.store.base import Vector

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.ai.embeddings.base import Embedder
    from shared.core.tenancy.scope import TenantStore

PAGE = 64


def _knowledge_text(doc: dict[str, Any]) -> str:
    return f"{doc.get('title', '')}\n{doc.get('text', '')}"  # as KnowledgeBase.add embeds it


def _history_text(doc: dict[str, Any]) -> str:
    return str(doc.get("text", ""))  # as index_interaction embeds it


# Collections of embedded chunks and the text each chunk was embedded from.
SOURCES: dict[str, Callable[[dict[str, Any]], str]] = {
    "knowledge_chunks": _knowledge_text,
    "history_chunks": _history_text,
}


def outdated(scope: TenantStore, embedder: Embedder, collection: str, limit: int) -> int:
    """How many chunks (up to ``limit``) of ``collection`` another model embedded."""
    return len(
        scope.query(
            scope.path(collection), where=[("model_id", "!=", embedder.model_id)], limit=limit
        )
    )


class Reembedded(TypedDict):
    """What one re-embedding run did."""

    reembedded: dict[str, int]  # chunks re-embedded, per collection
    skipped_changed: int  # chunks that changed meanwhile (their next write embeds them)
    remaining: bool  # outdated chunks are left for the next run


def reembed(scope: TenantStore, embedder: Embedder, *, deadline: float) -> Reembedded:
    """Re-embed this tenant's outdated chunks until none is left or ``deadline`` (a
    ``time.monotonic()`` value) passes. Returns the chunks re-embedded per collection and
    whether any are left.

    Raises:
        TransientError: the embedding service or Firestore failed (the scheduler retries; the
        pages already written stay done).
    """
    done = dict.fromkeys(SOURCES, 0)
    skipped = 0
    for collection, text_of in SOURCES.items():
        while time.monotonic() < deadline:
            rows = scope.query(
                scope.path(collection), where=[("model_id", "!=", embedder.model_id)], limit=PAGE
            )
            if not rows:
                break
            vectors = embedder.embed([text_of(doc) for _, doc in rows])
            written = _write_page(scope, embedder.model_id, collection, rows, vectors)
            done[collection] += written
            skipped += len(rows) - written
    left = any(outdated(scope, embedder, c, 1) for c in SOURCES)
    return {"reembedded": done, "skipped_changed": skipped, "remaining": left}


def _write_page(
    scope: TenantStore,
    model_id: str,
    collection: str,
    rows: list[tuple[str, dict[str, Any]]],
    vectors: list[list[float]],
) -> int:
    def apply(tx: Any) -> int:
        paths = [scope.path(collection, chunk_id) for chunk_id, _ in rows]
        current = [tx.get(path) for path in paths]  # every read before any write
        written = 0
        for path, (_, seen), now, vector in zip(paths, rows, current, vectors, strict=True):
            if now is None or now.get("content_hash") != seen.get("content_hash"):
                continue  # deleted or rewritten since the page was read
            if now.get("model_id") == model_id:
                continue  # another run got here first
            tx.set(path, {**now, "embedding": Vector(vector), "model_id": model_id})
            written += 1
        return written

    return int(scope.run_transaction(apply))
