"""The real-time service in the local stack: a CRM event becomes a score, and the score change
reaches the tenant's WebSocket through Pub/Sub (crm_events -> ai-events -> scoring_events ->
ai-events -> the service's own subscription -> socket)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from shared.core.config import TOPIC_AI_EVENTS, TOPIC_CRM_EVENTS, load_settings
from shared.core.messaging.pubsub import PubSubPublisher, ordering_key
from tests.helpers import crm_event
from tests.integration.conftest import STACK_PROJECT

if TYPE_CHECKING:
    from devstack.stack import Stack
    from tests.conftest import TokenFactory


def _socket(stack: Stack, token: str) -> Any:
    url = stack.procs["realtime"].url.replace("http://", "ws://") + "/ws"
    return connect(url, subprotocols=["bearer", token], open_timeout=10)  # type: ignore[list-item]


def _next_event(ws: Any, kind: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] == "event" and message["event"]["event_type"] == kind:
            event: dict[str, Any] = message["event"]
            return event


def test_a_score_change_reaches_the_tenants_socket_only(
    stack: Stack, make_token: TokenFactory
) -> None:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    publisher = PubSubPublisher.from_settings(load_settings(stack.env()))
    with (
        _socket(stack, make_token("rt-acme", ["viewer"])) as mine,
        _socket(stack, make_token("rt-globex", ["admin"])) as theirs,
    ):
        assert json.loads(mine.recv(timeout=10))["type"] == "ready"
        assert json.loads(theirs.recv(timeout=10))["type"] == "ready"
        lead = crm_event(tenant_id="rt-acme", entity_id="lead-rt-1", event_id="evt-rt-1")
        publisher.publish(TOPIC_CRM_EVENTS, lead, ordering_key=ordering_key("rt-acme", "lead-rt-1"))
        # The scoring function's first call loads its libraries: allow a minute.
        changed = _next_event(mine, "lead.score_changed", timeout=60)
        assert changed["tenant_id"] == "rt-acme" and changed["entity_id"] == "lead-rt-1"
        assert isinstance(changed["data"]["score"], int)
        # Published straight to ai-events: another tenant's event, and an internal one.
        for event_type, tenant in (
            ("lead.score_changed", "rt-acme-2"),
            ("lead.scoring_requested", "rt-globex"),
        ):
            publisher.publish(
                TOPIC_AI_EVENTS,
                {
                    "event_id": f"direct-{tenant}",
                    "event_type": event_type,
                    "tenant_id": tenant,
                    "entity_type": "lead",
                    "entity_id": "x",
                    "data": {},
                },
                attributes={"tenant_id": tenant, "event_type": event_type},
            )
        with pytest.raises(TimeoutError):
            theirs.recv(timeout=3)
        with pytest.raises(TimeoutError):
            mine.recv(timeout=0.5)
    # The instance reads ai-events through a subscription of its own.
    subscriber = pubsub_v1.SubscriberClient()
    names = [
        s.name
        for s in subscriber.list_subscriptions(request={"project": f"projects/{STACK_PROJECT}"})
    ]
    assert any("/ai-events-rt-" in name for name in names)


def test_a_bad_token_is_closed_with_4401(stack: Stack) -> None:
    url = stack.procs["realtime"].url.replace("http://", "ws://") + "/ws"
    with connect(url, subprotocols=["bearer", "nope"], open_timeout=10) as ws:  # type: ignore[list-item]
        assert "token is invalid" in json.loads(ws.recv(timeout=10))["message"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
