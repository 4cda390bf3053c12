"""Customer history retrieval on every store backend: restricted to one customer, recent
interactions weighted up, re-indexing replaces."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.ai.embeddings.local import LocalOnnxEmbedder
from shared.capabilities.insights.history import customer_history, index_interaction
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from shared.core.store import DocumentStore

EMBEDDER = LocalOnnxEmbedder()


def _interaction(scope: TenantStore, iid: str, customer: str, body: str, day: str) -> None:
    scope.set(
        scope.path("interactions", iid),
        {
            "customer_id": customer,
            "channel": "email",
            "direction": "inbound",
            "body": body,
            "occurred_at": f"{day}T10:00:00+00:00",
        },
    )
    index_interaction(scope, EMBEDDER, iid)


def test_history_is_per_customer_recent_first_and_reindexing_replaces(
    backend: DocumentStore,
) -> None:
    scope = TenantStore(backend, "acme")
    _interaction(
        scope, "old", "c1", "We are unhappy with the invoice and consider cancelling.", "2024-01-10"
    )
    _interaction(
        scope, "new", "c1", "We are unhappy with the invoice and consider cancelling.", "2026-11-20"
    )
    _interaction(
        scope,
        "other",
        "c2",
        "We are unhappy with the invoice and consider cancelling.",
        "2026-11-21",
    )
    hits = customer_history(scope, EMBEDDER, "c1").search(
        "cancellation risk invoice complaint", k=5
    )
    assert [h.doc_id for h in hits] == ["new", "old"]  # same text: the recent one first; c2 absent
    assert hits[0].citation()["source_type"] == "email" and hits[0].date == "2026-11-20"
    _interaction(scope, "new", "c1", "Thanks, all sorted.", "2026-11-22")
    hits = customer_history(scope, EMBEDDER, "c1").search("thanks sorted", k=5)
    assert [h.text for h in hits if h.doc_id == "new"] == ["Thanks, all sorted."]
