"""Straight to each function's URL on the local stack, past the gateway: a request without a
valid token is refused with 401 by every one of them, push and tasks targets included (issue 15:
a POST with only ``X-CloudTasks-TaskName`` ran any tenant's workflow slice, and a Pub/Sub-shaped
POST to crm_events was ingested with no token)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import httpx

from devstack.topology import function_routes
from devstack.units import functions
from shared.core.config import load_settings
from shared.core.store.firestore import FirestoreStore
from tests.helpers import crm_event, pubsub_push_body

if TYPE_CHECKING:
    from devstack.stack import Stack
    from tests.conftest import TokenFactory

# What each kind of service target would run if it trusted the caller.
SERVICE_BODIES: dict[str, Any] = {
    "pubsub": pubsub_push_body(
        crm_event(tenant_id="victim", entity_id="lead-forged", event_id="evt-forged"),
        "forged-1",
        tenant_id="victim",
        event_type="lead.created",
    ),
    "tasks": {"tenant_id": "victim", "run_id": "wf-any", "slice": 0},
    "scheduler": {"job": "collect"},
}


def test_no_function_serves_a_request_without_a_valid_token(
    stack: Stack, make_token: TokenFactory
) -> None:
    forged_headers: list[dict[str, str]] = [
        {},
        {"X-CloudTasks-TaskName": "t-1", "X-CloudTasks-QueueName": "workflows-interactive"},
        {"Authorization": "Bearer " + make_token("victim", ["admin"])},  # a CRM user's token
        {"Authorization": "Bearer not-a-token"},
    ]
    tried = refused = 0
    routes = function_routes()
    for name, url in sorted(stack.function_urls.items()):
        trigger = functions()[name]["trigger"]
        if trigger == "http":
            for (method, pattern), (function, route) in sorted(routes.items()):
                if function != name:
                    continue
                path = re.sub(r"\{[^}]+\}", "x1", pattern)
                body: dict[str, Any] | None = {} if route.body is not None else None
                answer = httpx.request(method, url + path, json=body, timeout=30)
                tried += 1
                refused += answer.status_code == 401
                assert answer.status_code == 401, (name, method, path, answer.text)
            continue
        for headers in forged_headers:
            # Another of our identities' genuine token is refused too.
            answer = httpx.post(
                url + "/", json=SERVICE_BODIES[trigger], headers=headers, timeout=30
            )
            tried += 1
            refused += answer.status_code == 401
            assert answer.status_code == 401, (name, headers, answer.text)
        wrong = "scheduler" if trigger != "scheduler" else "tasks"
        answer = httpx.post(
            url + "/",
            json=SERVICE_BODIES[trigger],
            headers={"Authorization": "Bearer " + stack.service_token(wrong, url)},
            timeout=30,
        )
        tried += 1
        refused += answer.status_code == 401
        assert answer.status_code == 401, (name, wrong, answer.text)
    store = FirestoreStore.from_settings(load_settings(stack.env()))
    assert store.get("tenants/victim/leads/lead-forged") is None  # nothing was ingested
    print(
        f"\nno-token or wrong-token requests straight to {len(stack.function_urls)} functions: "
        f"{refused} of {tried} refused with 401"
    )
    assert tried == refused and tried > 60
