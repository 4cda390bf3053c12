"""Cross-tenant reads and writes on every route, through the gateway (issue 15, security tier).

Tenant ``iso-a`` gets real data through the real entry points (CRM events over Pub/Sub, a
knowledge document, a workflow run, a score, an insight, an LLM batch), every text carrying a
marker. Then an admin of tenant ``iso-b`` calls every one of the API's operations with
``iso-a``'s ids in the path and the body, once as itself and once claiming ``iso-a`` with
``X-Tenant-ID``. Nothing may answer with ``iso-a``'s data (no response holds the marker), the
claimed tenant is always refused with 403, and ``iso-a``'s resources read the same afterwards.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from devstack.topology import load_routes
from shared.core.config import TOPIC_CRM_EVENTS, load_settings
from shared.core.messaging.pubsub import PubSubPublisher, ordering_key
from shared.core.store.firestore import FirestoreStore
from tests.helpers import crm_event

if TYPE_CHECKING:
    from collections.abc import Iterator

    from devstack.stack import Stack
    from tests.conftest import TokenFactory

OWNER, OTHER = "iso-a", "iso-b"
MARKER = "ZEBRA7731"  # in every text the owner stores; never sent by the other tenant


def _wait_for(fn: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def _seed(stack: Stack, api: httpx.Client, owner: dict[str, str]) -> dict[str, str]:
    """The owner's data, through the real entry points; returns the ids."""
    publisher = PubSubPublisher.from_settings(load_settings(stack.env()))
    events = [
        crm_event(
            tenant_id=OWNER,
            entity_id="lead-iso",
            event_id="evt-iso-lead",
            payload={"email": "iso@example.com", "company": f"Company {MARKER}"},
        ),
        crm_event(
            "contact.created",
            tenant_id=OWNER,
            entity_id="cust-iso",
            event_id="evt-iso-cust",
            payload={"email": "c@example.com", "company": f"Customer {MARKER}"},
        ),
        crm_event(
            "interaction.logged",
            tenant_id=OWNER,
            entity_id="int-iso",
            event_id="evt-iso-int",
            payload={
                "channel": "email",
                "direction": "inbound",
                "customer_id": "cust-iso",
                "body": f"Our renewal code is {MARKER}; the price went up and we may cancel.",
            },
        ),
    ]
    for event in events:
        publisher.publish(
            TOPIC_CRM_EVENTS,
            event,
            ordering_key=ordering_key(OWNER, event["entity_id"]),
            attributes={"tenant_id": OWNER},
        )
    store = FirestoreStore.from_settings(load_settings(stack.env()))
    for path in ("leads/lead-iso", "customers/cust-iso", "interactions/int-iso"):
        _wait_for(lambda path=path: store.get(f"tenants/{OWNER}/{path}"))
    doc = api.post(
        "/api/v1/ai/knowledge",
        headers=owner,
        json={"title": f"Pricing {MARKER}", "content": f"Premium costs 40 EUR. {MARKER}"},
    )
    assert doc.status_code in (200, 201), doc.text
    score = api.post("/api/v1/ai/scoring/leads", headers=owner, json={"lead_id": "lead-iso"})
    assert score.status_code == 200, score.text
    run = api.post(
        "/api/v1/ai/workflows",
        headers={**owner, "Idempotency-Key": "iso-run-1"},
        json={"type": "lead_qualification", "lead_id": "lead-iso"},
    )
    assert run.status_code in (200, 201, 202), run.text
    run_id = run.json()["run_id"]
    # Settled before the snapshot: waiting for a human, or done.
    _wait_for(
        lambda: (
            api.get(f"/api/v1/ai/workflows/{run_id}", headers=owner).json()["status"]
            in ("waiting_for_human", "completed", "failed")
        ),
        timeout=120,
    )
    insight = api.post(
        "/api/v1/ai/insights/generate", headers=owner, json={"customer_id": "cust-iso"}
    )
    assert insight.status_code == 200, insight.text
    batch = api.post(
        "/api/v1/ai/llm/batches",
        headers={**owner, "Idempotency-Key": "iso-batch-1"},
        json={
            "template_id": "outreach_draft",
            "lead_ids": ["lead-iso"],
            "variables": {"goal": MARKER},
        },
    )
    assert batch.status_code in (200, 202), batch.text
    return {
        "doc_id": doc.json()["doc_id"],
        "run_id": run_id,
        "batch_id": batch.json()["batch_id"],
        "lead_id": "lead-iso",
        "customer_id": "cust-iso",
    }


def _path(template: str, ids: dict[str, str]) -> str:
    values = {
        "customer_id": ids["customer_id"],
        "collection": "leads",
        "record_id": ids["lead_id"],
        "object_ref": f"workflow_run:{ids['run_id']}",
        "lead_id": ids["lead_id"],
        "version": "v1",
        "template_id": "outreach_draft",
        "batch_id": ids["batch_id"],
        "run_id": ids["run_id"],
        "doc_id": ids["doc_id"],
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def _body(method: str, path: str, ids: dict[str, str]) -> dict[str, Any] | None:
    """A valid request naming the owner's resources wherever the operation takes an id."""
    lead, customer = ids["lead_id"], ids["customer_id"]
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/v1/ai/scoring/leads/batch"): {"leads": [{"lead_id": lead}]},
        ("POST", "/api/v1/ai/scoring/leads"): {"lead_id": lead, "force": True},
        ("POST", "/api/v1/ai/scoring/models/test"): {"challenger": "v1", "share": 0.5},
        ("PUT", "/api/v1/ai/usage/policy"): {"budget": {"monthly_tokens": 1000}},
        ("PUT", "/api/v1/ai/prompts/{template_id}/overrides"): {},
        ("POST", "/api/v1/ai/prompts/{template_id}/preview"): {"variables": {"lead_id": lead}},
        ("POST", "/api/v1/ai/prompts/{template_id}/outcomes"): {
            "version": "v1",
            "outcome": "accepted",
            "ref": f"workflow_run:{ids['run_id']}",
        },
        ("POST", "/api/v1/ai/llm/batches"): {"template_id": "outreach_draft", "lead_ids": [lead]},
        ("POST", "/api/v1/ai/workflows"): {"type": "lead_qualification", "lead_id": lead},
        ("PUT", "/api/v1/ai/workflows/{run_id}/continue"): {"decision": "approve"},
        ("PUT", "/api/v1/ai/workflow-triggers"): {"triggers": []},
        ("POST", "/api/v1/ai/knowledge"): {
            "title": "mine",
            "content": "x",
            "doc_id": ids["doc_id"],
        },
        ("POST", "/api/v1/ai/knowledge/search"): {"query": f"renewal code price {lead}"},
        ("POST", "/api/v1/ai/insights/generate"): {"customer_id": customer, "force": True},
        ("POST", "/api/v1/ai/insights/chat"): {
            "message": "What is the renewal code?",
            "customer_id": customer,
        },
    }
    return bodies.get((method, path))


VOLATILE = {"age_seconds", "updated_at"}  # the clock moves; nothing else may


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _snapshot(api: httpx.Client, owner: dict[str, str], ids: dict[str, str]) -> dict[str, Any]:
    reads = [
        f"/api/v1/ai/crm/leads/{ids['lead_id']}",
        f"/api/v1/ai/crm/customers/{ids['customer_id']}/interactions",
        f"/api/v1/ai/scoring/leads/{ids['lead_id']}",
        f"/api/v1/ai/workflows/{ids['run_id']}",
        f"/api/v1/ai/llm/batches/{ids['batch_id']}",
        "/api/v1/ai/knowledge",
        f"/api/v1/ai/insights/customer/{ids['customer_id']}",
        "/api/v1/ai/prompts/outreach_draft/overrides",
        "/api/v1/ai/usage/policy",
        "/api/v1/ai/workflow-triggers",
        "/api/v1/ai/scoring/models",
    ]
    out = {}
    for path in reads:
        answer = api.get(path, headers=owner)
        assert answer.status_code == 200, (path, answer.text)
        out[path] = answer.json()
    return out


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    # Closed at the end: a pooled connection left to the garbage collector warns (an unclosed
    # socket) in whatever test runs when it is collected.
    with httpx.Client(base_url=stack.procs["gateway"].url, timeout=120) as client:
        yield client


def test_no_route_reads_or_writes_another_tenants_data(
    stack: Stack, make_token: TokenFactory, api: httpx.Client
) -> None:
    owner = {"Authorization": "Bearer " + make_token(OWNER, ["admin"], subject="owner-admin")}
    ids = _seed(stack, api, owner)
    before = _snapshot(api, owner, ids)
    assert MARKER in json.dumps(before)  # the marker is there to be leaked
    other = {"Authorization": "Bearer " + make_token(OTHER, ["admin"], subject="other-admin")}
    tried = refused = own_data_only = claimed_refused = 0
    for n, route in enumerate(load_routes()):
        method, template = route["method"], route["path"]
        path = _path(template, ids)
        body = _body(method, template, ids)
        if body is None and method in ("POST", "PUT"):
            body = {}
        key = {"Idempotency-Key": f"iso-b-{n}"}
        answer = api.request(method, path, headers={**other, **key}, json=body)
        tried += 1
        text = answer.text
        assert MARKER not in text, (method, template, answer.status_code, text[:500])
        assert answer.status_code < 500, (method, template, text[:500])
        if answer.status_code >= 400:
            refused += 1
        else:
            own_data_only += 1
            # What it answered is the caller's own: it names none of the owner's stored ids
            # beyond those the request itself sent (echoed as the thing asked about). Document
            # ids are the caller's to choose (the other tenant wrote its own under that id).
            sent = path + json.dumps(body or {})
            for owned in (ids["run_id"], ids["batch_id"]):
                assert owned not in text or owned in sent, (method, template, text[:300])
        # Claiming the owner's tenant with another tenant's token: refused before anything runs.
        claimed = api.request(
            method, path, headers={**other, **key, "X-Tenant-ID": OWNER}, json=body
        )
        tried += 1
        assert claimed.status_code == 403, (method, template, claimed.text[:300])
        assert MARKER not in claimed.text
        claimed_refused += 1
    after = _snapshot(api, owner, ids)
    for path, value in before.items():
        assert _stable(after[path]) == _stable(value), f"{path} changed after the other's calls"
    print(
        f"\ncross-tenant attempts on {len(load_routes())} operations: {tried} tried; "
        f"{refused + claimed_refused} refused (4xx), {own_data_only} answered with the caller's "
        f"own data only; 0 leaked, the owner's {len(before)} resources unchanged"
    )
