"""Ingestion of CRM events from Pub/Sub into the tenant read model.

Outcomes of one delivery:
- applied / stale / duplicate: acknowledged (the function returns normally);
- bad input (malformed JSON, a field that fails validation, a reused event id with another
  payload): published to the dead-letter topic with the reason in its attributes, then
  acknowledged, so it is kept for inspection and never retried for ever;
- a transient failure: raised, so Pub/Sub delivers again (and its own dead-letter policy takes
  over after the subscription's maximum delivery attempts).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from shared.capabilities.crm.followups import followups_for
from shared.capabilities.crm.parsing import parse_event
from shared.capabilities.crm.readmodel import Outcome, apply_in, read_in
from shared.core.config import TOPIC_AI_EVENTS, TOPIC_CRM_EVENTS_DEAD_LETTER
from shared.core.errors import AppError, InvalidInput
from shared.core.idempotency import IdempotencyStore, Replayed, Started, payload_hash
from shared.core.log import get_logger, log_context
from shared.core.messaging.pubsub import ordering_key
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from shared.capabilities.crm.envelope import CrmEvent, _Payload
    from shared.core.messaging.pubsub import Publisher
    from shared.core.store.base import DocumentStore

_log = get_logger("crm.ingest")
Status = Literal["applied", "stale", "duplicate", "dead_lettered"]


@dataclass(frozen=True)
class PubSubMessage:
    """A Pub/Sub message as a push delivers it: id, data and attributes."""

    message_id: str
    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestResult:
    """What ingesting one CRM event did (applied, stale, duplicate or dead-lettered) and how many
    follow-ups it published."""

    status: Status
    followups: int = 0
    reason: str | None = None


def message_from_cloud_event(data: Any, event_id: str) -> PubSubMessage:
    """The Pub/Sub message inside a ``google.cloud.pubsub.topic.v1.messagePublished`` CloudEvent.

    Raises:
        InvalidInput: the CloudEvent carries no Pub/Sub message or its data is not base64.
    """
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise InvalidInput("CloudEvent data has no Pub/Sub 'message'", field="message")
    try:
        raw = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("message data is not base64", field="message.data") from exc
    attributes = message.get("attributes") or {}
    return PubSubMessage(str(message.get("messageId") or event_id), raw, dict(attributes))


def dead_letter(publisher: Publisher, topic: str, message: PubSubMessage, exc: AppError) -> None:
    """Send a message that can never succeed to ``topic`` at once, with the reason in its
    attributes (``error_code``, ``error_message``, ``error_field``, ``original_message_id``).
    If this publish fails it raises: the delivery is retried, never dropped."""
    attributes = {
        **message.attributes,
        "error_code": exc.code,
        "error_message": exc.message[:1000],
        "error_field": exc.field or "",
        "original_message_id": message.message_id,
    }
    publisher.publish(topic, message.data, attributes=attributes)
    _log.warning(
        "message rejected to %s: %s",
        topic,
        exc.message,
        extra={
            "fields": {
                "metric": "dead_letter",
                "topic": topic,
                "error_code": exc.code,
                "error_field": exc.field,
            }
        },
    )


class CrmIngestor:
    """Applies each crm-events message to the tenant's read model exactly once (an idempotency lock
    per event), publishes its follow-up ai-events, and dead-letters a message that can never apply,
    with the reason."""

    def __init__(
        self, store: DocumentStore, publisher: Publisher, *, lock_ttl: timedelta | None = None
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._lock_ttl = lock_ttl or timedelta(minutes=5)

    def handle(self, message: PubSubMessage) -> IngestResult:
        """Process one delivery; see the module docstring for what each outcome means.

        Raises:
            AppError: a retryable failure (the platform should deliver again).
        """
        with log_context(message_id=message.message_id):
            try:
                event, payload = parse_event(message.data)
                claimed = message.attributes.get("tenant_id")
                if claimed is not None and claimed != event.tenant_id:
                    raise InvalidInput(
                        "attribute tenant_id does not match the envelope's tenant_id",
                        field="attributes.tenant_id",
                    )
                with log_context(tenant_id=event.tenant_id, event_id=event.event_id):
                    return self._ingest(event, payload)
            except AppError as exc:
                if exc.retryable:
                    raise
                return self._dead_letter(message, exc)

    def _ingest(self, event: CrmEvent, payload: _Payload) -> IngestResult:
        scope = TenantStore(self._store, event.tenant_id)
        idem = IdempotencyStore(scope, lock_ttl=self._lock_ttl)
        key = f"crm-event:{event.event_id}"
        request_hash = payload_hash(event.model_dump(mode="json"))

        def _begin_and_apply(tx: Any) -> tuple[Started | Replayed, Outcome | None]:
            # One transaction takes the event's lock and applies it: all reads, then all writes.
            record = idem.read_in(tx, key)
            current, tenant = read_in(tx, scope, event)
            begun = idem.begin_in(tx, record, key, request_hash)
            if isinstance(begun, Replayed):
                return begun, None
            return begun, apply_in(tx, scope, event, payload, current, tenant)

        begun, applied = scope.run_transaction(_begin_and_apply)
        if isinstance(begun, Replayed):
            _log.info(
                "duplicate CRM event ignored", extra={"fields": {"event_type": event.event_type}}
            )
            return IngestResult("duplicate")
        outcome: Outcome = applied or "stale"
        done = False
        try:
            followups = followups_for(event, payload) if outcome == "applied" else []
            if followups:
                self._publisher.publish_many(
                    TOPIC_AI_EVENTS,
                    [
                        (
                            f,
                            ordering_key(event.tenant_id, f["entity_id"]),
                            {"tenant_id": event.tenant_id, "event_type": f["event_type"]},
                        )
                        for f in followups
                    ],
                )
            idem.complete(key, begun.token, {"outcome": outcome, "followups": len(followups)})
            done = True
        finally:
            if not done:
                idem.release(key, begun.token)
        _log.info(
            "CRM event %s",
            outcome,
            extra={"fields": {"event_type": event.event_type, "entity_id": event.entity_id}},
        )
        return IngestResult(outcome, followups=len(followups))

    def handle_invalid(self, message: PubSubMessage, exc: AppError) -> IngestResult:
        """Dead-letter a delivery that could not even be decoded as a Pub/Sub message."""
        return self._dead_letter(message, exc)

    def _dead_letter(self, message: PubSubMessage, exc: AppError) -> IngestResult:
        dead_letter(self._publisher, TOPIC_CRM_EVENTS_DEAD_LETTER, message, exc)
        return IngestResult("dead_lettered", reason=exc.message)
