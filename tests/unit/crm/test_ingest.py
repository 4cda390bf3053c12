from __future__ import annotations

import json

import pytest

from shared.capabilities.crm import CrmIngestor, PubSubMessage
from shared.capabilities.crm.ingest import message_from_cloud_event
from shared.core.errors import InvalidInput, TransientError
from shared.core.messaging import MemoryPublisher
from shared.core.store import MemoryStore
from tests.helpers import crm_event, pubsub_push_body


def _msg(event: dict[str, object] | bytes, message_id: str = "m1", **attrs: str) -> PubSubMessage:
    data = event if isinstance(event, bytes) else json.dumps(event).encode()
    return PubSubMessage(message_id, data, attrs)


def test_an_event_is_applied_once_and_followed_up() -> None:
    store, pub = MemoryStore(), MemoryPublisher()
    ingestor = CrmIngestor(store, pub)
    assert ingestor.handle(_msg(crm_event())).status == "applied"
    assert ingestor.handle(_msg(crm_event(), "m2")).status == "duplicate"
    assert [m.json()["event_type"] for m in pub.on("ai-events")] == ["lead.scoring_requested"]
    assert pub.on("ai-events")[0].ordering_key == "acme:lead-1"
    assert store.get("tenants/acme/leads/lead-1") is not None


def test_bad_input_goes_to_the_dead_letter_topic_with_the_reason() -> None:
    store, pub = MemoryStore(), MemoryPublisher()
    event = crm_event(payload={"email": "broken"})
    result = CrmIngestor(store, pub).handle(_msg(event, tenant_id="acme"))
    assert result.status == "dead_lettered"
    [dead] = pub.on("crm-events-dead-letter")
    assert dead.attributes["error_field"] == "payload.email"
    assert dead.attributes["error_code"] == "invalid_input"
    assert dead.attributes["original_message_id"] == "m1"
    assert dead.json() == event  # the original data, kept whole
    assert store.get("tenants/acme/leads/lead-1") is None


def test_a_tenant_attribute_that_disagrees_is_rejected() -> None:
    pub = MemoryPublisher()
    result = CrmIngestor(MemoryStore(), pub).handle(_msg(crm_event(), tenant_id="globex"))
    assert result.status == "dead_lettered"
    assert pub.on("crm-events-dead-letter")[0].attributes["error_field"] == "attributes.tenant_id"


def test_a_reused_event_id_with_another_payload_is_dead_lettered() -> None:
    pub = MemoryPublisher()
    ingestor = CrmIngestor(MemoryStore(), pub)
    ingestor.handle(_msg(crm_event()))
    changed = crm_event(payload={"email": "other@x.io"})
    assert ingestor.handle(_msg(changed, "m2")).status == "dead_lettered"
    assert (
        pub.on("crm-events-dead-letter")[0].attributes["error_code"]
        == "idempotency_payload_mismatch"
    )


def test_a_transient_failure_raises_and_a_retry_completes() -> None:
    store, pub = MemoryStore(), MemoryPublisher(fail_with=TransientError("pubsub down"))
    ingestor = CrmIngestor(store, pub)
    with pytest.raises(TransientError):
        ingestor.handle(_msg(crm_event()))
    pub.fail_with = None
    # The read model was written, the follow-up was not: the retry must still publish it.
    assert ingestor.handle(_msg(crm_event())).status == "applied"
    assert len(pub.on("ai-events")) == 1


def test_dead_lettering_that_fails_raises_rather_than_dropping() -> None:
    pub = MemoryPublisher(fail_with=TransientError("pubsub down"))
    with pytest.raises(TransientError):
        CrmIngestor(MemoryStore(), pub).handle(_msg(b"not json"))


def test_message_from_cloud_event() -> None:
    body = pubsub_push_body(crm_event(), "77", tenant_id="acme")
    msg = message_from_cloud_event(body, "ce-1")
    assert msg.message_id == "77" and msg.attributes == {"tenant_id": "acme"}
    assert json.loads(msg.data)["event_id"] == "evt-1"
    with pytest.raises(InvalidInput, match="message"):
        message_from_cloud_event({"nope": 1}, "ce-1")
    with pytest.raises(InvalidInput, match="base64"):
        message_from_cloud_event({"message": {"data": "***"}}, "ce-1")
