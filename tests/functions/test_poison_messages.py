"""A message that can never succeed goes to its dead-letter topic at once, with the reason, on
every push subscription (issue 15: scoring_events, workflow_events and insights_events answered
500 to a push whose data is ``{}``, so Pub/Sub retried it five times first)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PROJECT
from tests.functions.conftest import pull
from tests.helpers import pubsub_push_body

AI_EVENT_FUNCTIONS = [
    ("scoring_events", "handle_ai_event", "lead.scoring_requested"),
    ("workflow_events", "handle_workflow_event", "interaction.inbound_message"),
    ("insights_events", "handle_history_event", "customer.history_changed"),
]


def _bad_tenant(event_type: str) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "event_type": event_type,
        "tenant_id": "../other",  # a path, not a tenant id
        "entity_type": "customer",
        "entity_id": "c-1",
        "data": {"lead_id": "l-1", "customer_id": "c-1", "interaction_id": "i-1"},
    }


@pytest.mark.parametrize(("function", "target", "event_type"), AI_EVENT_FUNCTIONS)
@pytest.mark.parametrize("poison", ["empty", "bad-tenant", "not-json"])
def test_a_poison_message_is_acked_and_dead_lettered_with_its_reason(
    function_client: Any,
    service_auth: Any,
    function: str,
    target: str,
    event_type: str,
    poison: str,
) -> None:
    client = function_client(function, target)
    choices: dict[str, bytes | dict[str, Any]] = {
        "empty": {},
        "bad-tenant": _bad_tenant(event_type),
        "not-json": b"\xff{",
    }
    data = choices[poison]
    body = pubsub_push_body(data, "poison-1", tenant_id="acme", event_type=event_type)
    response = client.post("/", json=body, headers=service_auth("pubsub_push"))
    assert response.status_code == 200  # acknowledged: Pub/Sub does not deliver it again
    [dead] = pull(PROJECT, "ai-events-dead-letter-inspect")
    assert dead.attributes["original_message_id"] == "poison-1"
    assert dead.attributes["error_code"] == "invalid_input" and dead.attributes["error_message"]
    assert dead.attributes["event_type"] == event_type  # the original attributes are kept


def test_a_message_that_is_not_base64_is_dead_lettered(
    function_client: Any, service_auth: Any
) -> None:
    client = function_client("scoring_events", "handle_ai_event")
    body = pubsub_push_body(b"{}", "poison-2")
    body["message"]["data"] = "%%%"
    assert client.post("/", json=body, headers=service_auth("pubsub_push")).status_code == 200
    [dead] = pull(PROJECT, "ai-events-dead-letter-inspect")
    assert dead.attributes["error_field"] == "message.data"
