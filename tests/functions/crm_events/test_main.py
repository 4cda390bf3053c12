from __future__ import annotations

import json
from typing import Any

from shared.core.config import load_settings
from shared.core.store.firestore import FirestoreStore
from tests.conftest import PROJECT
from tests.functions.conftest import pull
from tests.helpers import crm_event, pubsub_push_body


def _store() -> FirestoreStore:
    import os

    return FirestoreStore.from_settings(load_settings(os.environ))


def test_a_pushed_event_lands_in_the_read_model(function_client: Any, service_auth: Any) -> None:
    client = function_client("crm_events", "handle_crm_event")
    response = client.post(
        "/",
        json=pubsub_push_body(crm_event(), "m-1", tenant_id="acme"),
        headers=service_auth("pubsub_push"),
    )
    assert response.status_code == 200
    lead = _store().get("tenants/acme/leads/lead-1")
    assert lead is not None and lead["email"] == "a@example.com"
    followups = [json.loads(m.data) for m in pull(PROJECT, "ai-events-audit")]
    assert [f["event_type"] for f in followups] == ["lead.scoring_requested"]


def test_a_malformed_event_is_acked_and_dead_lettered_with_its_reason(
    function_client: Any, service_auth: Any
) -> None:
    client = function_client("crm_events", "handle_crm_event")
    bad = crm_event(payload={"email": "nope"})
    response = client.post(
        "/", json=pubsub_push_body(bad, "m-9"), headers=service_auth("pubsub_push")
    )
    assert response.status_code == 200
    [dead] = pull(PROJECT, "crm-events-dead-letter-inspect")
    assert dead.attributes["error_field"] == "payload.email"
    assert dead.attributes["original_message_id"] == "m-9"
    assert json.loads(dead.data) == bad
    assert _store().get("tenants/acme/leads/lead-1") is None


def test_a_message_that_is_not_base64_is_dead_lettered(
    function_client: Any, service_auth: Any
) -> None:
    client = function_client("crm_events", "handle_crm_event")
    body = pubsub_push_body(b"{}", "m-3")
    body["message"]["data"] = "%%%"
    assert client.post("/", json=body, headers=service_auth("pubsub_push")).status_code == 200
    [dead] = pull(PROJECT, "crm-events-dead-letter-inspect")
    assert dead.attributes["error_field"] == "message.data"
