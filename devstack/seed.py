"""The demo tenant: a few CRM records sent as real CRM events through Pub/Sub, usage, a trained
scoring model, and a small knowledge base added through the public API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.core.config import TOPIC_CRM_EVENTS

if TYPE_CHECKING:
    from devstack.stack import Stack
    from shared.core.config import Settings

DEMO_TENANT = "demo"


def demo_events(tenant: str = DEMO_TENANT) -> list[dict[str, Any]]:
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    events: list[dict[str, Any]] = []

    def add(kind: str, entity: str, payload: dict[str, Any], minutes: int) -> None:
        events.append(
            {
                "schema_version": "1",
                "event_id": f"seed-{len(events) + 1:03d}",
                "event_type": kind,
                "tenant_id": tenant,
                "entity_id": entity,
                "version": 1,
                "occurred_at": (start + timedelta(minutes=minutes)).isoformat(),
                "payload": payload,
            }
        )

    add(
        "contact.created",
        "cust-ada",
        {
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Analytical Engines Ltd",
            "priority": "high",
        },
        0,
    )
    add(
        "contact.created",
        "cust-grace",
        {
            "email": "grace@example.com",
            "first_name": "Grace",
            "last_name": "Hopper",
            "company": "Compiler Co",
        },
        1,
    )
    add(
        "lead.created",
        "lead-1001",
        {
            "email": "alan@example.com",
            "first_name": "Alan",
            "last_name": "Turing",
            "company": "Bletchley Analytics",
            "source": "webinar",
            "estimated_value": 12000,
            "custom_fields": {"employees": 120, "industry": "software"},
        },
        2,
    )
    add(
        "lead.created",
        "lead-1002",
        {
            "email": "edsger@example.com",
            "first_name": "Edsger",
            "company": "Shortest Path BV",
            "source": "website",
            "custom_fields": {"employees": 15, "industry": "logistics"},
        },
        3,
    )
    add(
        "interaction.logged",
        "int-1",
        {
            "channel": "email",
            "direction": "inbound",
            "customer_id": "cust-ada",
            "subject": "Renewal question",
            "body": "Can we add ten more seats before the renewal in January?",
        },
        10,
    )
    add(
        "interaction.logged",
        "int-2",
        {
            "channel": "call",
            "direction": "outbound",
            "customer_id": "cust-ada",
            "duration_seconds": 900,
            "body": "Discussed expansion to the analytics team; wants a quote.",
        },
        20,
    )
    add(
        "interaction.logged",
        "int-3",
        {
            "channel": "support_message",
            "direction": "inbound",
            "customer_id": "cust-grace",
            "subject": "Login fails",
            "body": "Since this morning nobody in our team can log in.",
        },
        30,
    )
    add(
        "interaction.logged",
        "int-4",
        {
            "channel": "meeting",
            "lead_id": "lead-1001",
            "body": "Demo of the reporting module; strong interest.",
        },
        40,
    )
    add(
        "deal.stage_changed",
        "deal-77",
        {
            "stage": "proposal",
            "previous_stage": "qualification",
            "amount": 24000,
            "currency": "EUR",
            "customer_id": "cust-ada",
        },
        50,
    )
    return events


def seed_demo_tenant(stack: Stack, timeout: float = 60.0) -> int:
    """Publish the demo events to ``crm-events`` and wait until the read model holds them."""
    from shared.core.config import load_settings
    from shared.core.messaging.pubsub import PubSubPublisher, ordering_key
    from shared.core.store.firestore import FirestoreStore

    settings = load_settings(stack.env())
    publisher = PubSubPublisher.from_settings(settings)
    events = demo_events()
    for event in events:
        publisher.publish(
            TOPIC_CRM_EVENTS,
            event,
            ordering_key=ordering_key(event["tenant_id"], event["entity_id"]),
            attributes={"tenant_id": event["tenant_id"]},
        )
    store = FirestoreStore.from_settings(settings)
    collections = {
        "contact": "customers",
        "lead": "leads",
        "interaction": "interactions",
        "deal": "deals",
    }
    paths = [
        f"tenants/{e['tenant_id']}/{collections[e['event_type'].split('.')[0]]}/{e['entity_id']}"
        for e in events
    ]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(doc is not None for doc in store.get_many(paths)):
            _demo_llm_calls(settings)
            _demo_scoring(store)
            _demo_knowledge(stack)
            return len(paths)
        time.sleep(0.2)
    raise TimeoutError("the demo tenant's events did not reach the read model; see .local/logs")


def _demo_llm_calls(settings: Settings) -> None:
    """Two real calls through the LLM layer (to the simulator), so the usage API has data."""
    from shared.ai.llm import CallContext, LLMClient, LLMRequest, Message
    from shared.ai.llm.factory import build_router
    from shared.ai.llm.ledger import Ledger
    from shared.ai.llm.policy import PolicyStore
    from shared.core.messaging.pubsub import PubSubPublisher
    from shared.core.store.firestore import FirestoreStore

    store = FirestoreStore.from_settings(settings)
    router = build_router(settings)
    client = LLMClient(
        router,
        ledger=Ledger(store, PubSubPublisher.from_settings(settings)),
        policies=PolicyStore(store),
    )
    for feature, ref, question in (
        (
            "insights",
            "customer:cust-ada",
            "Summarise Ada Lovelace's recent interactions and renewal intent.",
        ),
        (
            "workflow",
            "lead:lead-1001",
            "Qualify the lead Alan Turing of Bletchley Analytics (120 employees).",
        ),
    ):
        client.complete(
            LLMRequest(messages=[Message(role="user", content=question)], max_tokens=300),
            CallContext(tenant_id=DEMO_TENANT, feature=feature, crm_object=ref),
        )
    # The SDKs' connection pools, closed now rather than whenever they are collected (an
    # unclosed socket warns then, in whatever test runs at that moment).
    for provider in router.providers.values():
        provider.close()


def _demo_scoring(store: Any) -> None:
    """800 historic leads imported in bulk, and the tenant's first scoring model trained on them."""
    from devstack.demo_leads import write_history
    from shared.capabilities.scoring.service import train_from_read_model
    from shared.core.tenancy.scope import TenantStore

    write_history(store, DEMO_TENANT, 800)
    train_from_read_model(TenantStore(store, DEMO_TENANT))


KNOWLEDGE_DIR = Path(__file__).resolve().parent / "demo_knowledge"


def _demo_knowledge(stack: Stack) -> None:
    """The demo tenant's knowledge base (``devstack/demo_knowledge/*.md``), added through the
    public API as an admin would; each has a fixed ``doc_id``, so seeding again replaces it."""
    import httpx

    from devstack.tokens import mint_token

    token = mint_token(stack.private_key.read_text(), tenant_id=DEMO_TENANT, roles=["admin"])
    for path in sorted(KNOWLEDGE_DIR.glob("*.md")):
        text = path.read_text()
        answer = httpx.post(
            f"{stack.gateway_url}/api/v1/ai/knowledge",
            json={
                "doc_id": f"demo-{path.stem}",
                "title": text.splitlines()[0].lstrip("# "),
                "content": text,
                "format": "markdown",
                "source": "demo",
            },
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"seed-{path.stem}"},
            timeout=60,
        )
        answer.raise_for_status()
