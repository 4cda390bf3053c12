"""Every interaction, note, email and support message of a customer, as CRM events bring them,
chunked, embedded and stored in ``tenants/{t}/history_chunks`` with the customer id, so
retrieval can be restricted to one customer and weighted towards recent history.

``customer.history_changed`` (an ai-event the CRM ingestion publishes) reaches
:func:`handle_history_event` through the ``ai-events-insights`` subscription.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Required, TypedDict

from shared.capabilities.crm.followups import CUSTOMER_HISTORY_CHANGED
from shared.capabilities.knowledge.index import ChunkIndex
from shared.capabilities.knowledge.text import chunk, keyword_map
from shared.core.errors import InvalidInput
from shared.core.log import get_logger, log_context
from shared.core.store.base import Vector, check_segment
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from shared.ai.embeddings.base import Embedder
    from shared.ai.llm.client import LLMClient
    from shared.capabilities.crm.ingest import PubSubMessage
    from shared.capabilities.insights.service import Refresh
    from shared.core.messaging.pubsub import Publisher
    from shared.core.store.base import DocumentStore

_log = get_logger("insights.history")
COLLECTION = "history_chunks"
HALF_LIFE_DAYS = 60.0
SOURCE_TYPES = {
    "email": "email",
    "call": "call",
    "meeting": "meeting",
    "note": "note",
    "support_message": "support_message",
}


def index_interaction(scope: TenantStore, embedder: Embedder, interaction_id: str) -> int:
    """(Re)index one interaction from the read model; returns the chunks written (0 when it has
    no text or no customer). Replaces what an earlier version of it left."""
    doc = scope.get(
        scope.path("interactions", check_segment(interaction_id, field="interaction_id"))
    )
    if doc is None or not doc.get("customer_id"):
        return 0
    text = "\n\n".join(str(doc[k]) for k in ("subject", "body", "summary") if doc.get(k))
    for n in range(64):  # drop the chunks an earlier, longer version left
        path = scope.path(COLLECTION, f"{interaction_id}-{n}")
        if scope.get(path) is None:
            break
        scope.delete(path)
    if not text.strip():
        return 0
    pieces = chunk(text, "text")
    vectors = embedder.embed(pieces)
    when = str(doc.get("occurred_at") or doc.get("updated_at") or "")[:10] or None
    title = f"{doc.get('channel', 'interaction')} {doc.get('direction', '')}".strip()
    scope.set_many(
        [
            (
                scope.path(COLLECTION, f"{interaction_id}-{n}"),
                {
                    "doc_id": interaction_id,
                    "customer_id": doc["customer_id"],
                    "n": n,
                    "title": title,
                    "text": piece,
                    "embedding": Vector(vector),
                    "model_id": embedder.model_id,
                    "kw": keyword_map(piece),
                    "title_terms": [],
                    "source_type": SOURCE_TYPES.get(str(doc.get("channel")), "interaction"),
                    "date": when,
                    "content_hash": hashlib.sha256(piece.encode()).hexdigest(),
                },
            )
            for n, (piece, vector) in enumerate(zip(pieces, vectors, strict=True))
        ]
    )
    return len(pieces)


def customer_history(scope: TenantStore, embedder: Embedder, customer_id: str) -> ChunkIndex:
    """Retrieval over one customer's history, recent chunks weighted up (half-life 60 days)."""
    return ChunkIndex(
        scope,
        embedder,
        COLLECTION,
        where=[("customer_id", "==", customer_id)],
        recency_half_life_days=HALF_LIFE_DAYS,
    )


class IndexOutcome(TypedDict, total=False):
    """What a ``customer.history_changed`` event did, as the push's answer and log line say."""

    status: Required[str]  # indexed, or ignored (another event type)
    event_type: str
    chunks: int
    insights_marked_stale: int
    refreshed: list[str]
    reason: str


def handle_history_event(
    message: PubSubMessage,
    store: DocumentStore,
    embedder: Embedder,
    client: LLMClient | None = None,
    publisher: Publisher | None = None,
) -> IndexOutcome:
    """Index the interaction a ``customer.history_changed`` event names.

    Raises:
        InvalidInput: not an ai-event (dead-lettered); TransientError: retried.
    """
    try:
        event = json.loads(message.data)
        kind, tenant_id = event["event_type"], event["tenant_id"]
        data = event.get("data", {})
    except (ValueError, KeyError, TypeError) as exc:  # ValueError: bad JSON or UTF-8
        raise InvalidInput(f"not an ai-event: {exc}", field="data") from exc
    if kind != CUSTOMER_HISTORY_CHANGED or not data.get("interaction_id"):
        return {"status": "ignored", "event_type": kind}
    scope = TenantStore(store, str(tenant_id))
    with log_context(tenant_id=tenant_id, interaction_id=data["interaction_id"]):
        chunks = index_interaction(scope, embedder, str(data["interaction_id"]))
        from shared.capabilities.insights.service import mark_stale

        customer_id = str(event["entity_id"])
        stale = mark_stale(scope, customer_id)
        refresh: Refresh | None = None
        if stale and client is not None:
            from shared.capabilities.insights.service import refresh_if_high_priority

            refresh = refresh_if_high_priority(scope, client, embedder, customer_id, publisher)
        _log.info(
            "interaction indexed",
            extra={"fields": {"chunks": chunks, "insights_marked_stale": stale, **(refresh or {})}},
        )
    outcome: IndexOutcome = {"status": "indexed", "chunks": chunks, "insights_marked_stale": stale}
    if refresh is not None:
        outcome["refreshed"], outcome["reason"] = refresh["refreshed"], refresh["reason"]
    return outcome
