"""A CRM interaction event, through crm_events and the ai-events-insights subscription into
insights_events, becomes searchable history of that customer."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from shared.ai.embeddings.local import LocalOnnxEmbedder
from shared.capabilities.insights.history import customer_history
from shared.core.config import TOPIC_CRM_EVENTS, load_settings
from shared.core.messaging.pubsub import PubSubPublisher, ordering_key
from shared.core.store.firestore import FirestoreStore
from shared.core.tenancy.scope import TenantStore
from tests.helpers import crm_event

if TYPE_CHECKING:
    from devstack.stack import Stack


def test_interaction_events_are_indexed_per_customer(stack: Stack) -> None:
    publisher = PubSubPublisher.from_settings(load_settings(stack.env()))
    for n, (customer, body) in enumerate(
        [
            ("cust-1", "The March invoice charged us twice for the premium plan."),
            ("cust-2", "Please send the contract for the premium plan."),
        ]
    ):
        event = crm_event(
            "interaction.logged",
            event_id=f"evt-hist-{n}",
            entity_id=f"int-h{n}",
            payload={
                "channel": "email",
                "direction": "inbound",
                "customer_id": customer,
                "body": body,
            },
        )
        publisher.publish(
            TOPIC_CRM_EVENTS,
            event,
            ordering_key=ordering_key("acme", f"int-h{n}"),
            attributes={"tenant_id": "acme"},
        )
    store = FirestoreStore.from_settings(load_settings(stack.env()))
    deadline = time.monotonic() + 180  # behind whatever the tests before left to index
    while time.monotonic() < deadline and len(store.query("tenants/acme/history_chunks")) < 2:
        time.sleep(0.2)
    assert len(store.query("tenants/acme/history_chunks")) == 2
    hits = customer_history(TenantStore(store, "acme"), LocalOnnxEmbedder(), "cust-1").search(
        "double charge on the invoice", k=5
    )
    assert [h.doc_id for h in hits] == ["int-h0"]
    assert hits[0].citation()["source_type"] == "email"
