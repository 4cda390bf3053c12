"""Rescoring on CRM changes: ``lead.scoring_requested`` on ``ai-events`` (published by CRM event
ingestion when a lead is created or updated) rescores the lead; the scorer publishes
``lead.score_changed`` for the real-time service when the score moves."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Required, TypedDict

from shared.capabilities.crm.followups import LEAD_SCORING_REQUESTED
from shared.capabilities.scoring.service import LeadScorer
from shared.core.errors import InvalidInput, NotFound
from shared.core.log import get_logger, log_context
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from shared.capabilities.crm.ingest import PubSubMessage
    from shared.core.messaging.pubsub import Publisher
    from shared.core.store.base import DocumentStore

_log = get_logger("scoring.events")


class RescoreOutcome(TypedDict, total=False):
    """What a ``lead.scoring_requested`` event did."""

    status: Required[str]  # scored, lead_missing, or ignored (another event type)
    event_type: str
    score: int


def handle_ai_event(
    message: PubSubMessage, store: DocumentStore, publisher: Publisher | None
) -> RescoreOutcome:
    """Rescore the lead an event names. Other event types and deleted leads are acknowledged.

    Raises:
        InvalidInput: the message is not an ai-event (dead-lettered by the subscription).
        TransientError: Firestore or Pub/Sub failed (retried).
    """
    try:
        event = json.loads(message.data)
        kind, tenant_id, lead_id = event["event_type"], event["tenant_id"], event["entity_id"]
    except (ValueError, KeyError, TypeError) as exc:  # ValueError: bad JSON or UTF-8
        raise InvalidInput(f"not an ai-event: {exc}", field="data") from exc
    if kind != LEAD_SCORING_REQUESTED:
        return {"status": "ignored", "event_type": kind}
    with log_context(tenant_id=tenant_id, lead_id=lead_id):
        try:
            result = LeadScorer(TenantStore(store, tenant_id), publisher=publisher).score(lead_id)
        except NotFound:
            _log.info("lead to rescore no longer exists")
            return {"status": "lead_missing"}
        _log.info(
            "lead rescored",
            extra={"fields": {"score": result.score, "model_version": result.model_version}},
        )
        return {"status": "scored", "score": result.score}
