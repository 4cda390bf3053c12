"""End to end on the emulators: Pub/Sub push into the crm_events process, HTTP through the gateway."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import httpx

from shared.core.config import TOPIC_CRM_EVENTS, load_settings
from shared.core.messaging.pubsub import PubSubPublisher, ordering_key
from shared.core.store.firestore import FirestoreStore
from tests.functions.conftest import pull
from tests.helpers import crm_event
from tests.integration.conftest import STACK_PROJECT

if TYPE_CHECKING:
    from devstack.stack import Stack
    from tests.conftest import TokenFactory


def _publish(stack: Stack, event: dict[str, Any] | bytes, **attributes: str) -> None:
    publisher = PubSubPublisher.from_settings(load_settings(stack.env()))
    key = ordering_key(event["tenant_id"], event["entity_id"]) if isinstance(event, dict) else ""
    publisher.publish(TOPIC_CRM_EVENTS, event, ordering_key=key, attributes=attributes)


def _wait_for(fn: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_published_events_reach_the_read_model_once(stack: Stack) -> None:
    store = FirestoreStore.from_settings(load_settings(stack.env()))
    event = crm_event(tenant_id="acme", entity_id="lead-7", event_id="evt-7")
    _publish(stack, event)
    _publish(stack, event)  # the same event delivered twice
    lead = _wait_for(lambda: store.get("tenants/acme/leads/lead-7"))
    assert lead["email"] == "a@example.com"
    update = crm_event(
        "lead.updated",
        tenant_id="acme",
        entity_id="lead-7",
        event_id="evt-8",
        version=2,
        payload={"title": "CFO"},
    )
    _publish(stack, update)
    _wait_for(lambda: (store.get("tenants/acme/leads/lead-7") or {}).get("title") == "CFO")
    # Collect until both scoring requests and the scoring function's announcement arrived (its
    # first call loads its libraries; the three may come in any order), or a minute passed; then
    # a little longer, so a duplicate would be seen.
    events: list[dict[str, Any]] = []

    def seen(kind: str) -> int:
        return sum(e["event_type"] == kind for e in events)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        seen("lead.scoring_requested") >= 2 and seen("lead.score_changed")
    ):
        pulled = pull(STACK_PROJECT, "ai-events-audit", expect=10, timeout=2)
        # Other tests share the stack: keep this tenant's events.
        events += [e for e in (json.loads(m.data) for m in pulled) if e["tenant_id"] == "acme"]
    pulled = pull(STACK_PROJECT, "ai-events-audit", expect=10, timeout=2)
    events += [e for e in (json.loads(m.data) for m in pulled) if e["tenant_id"] == "acme"]
    followups = [e for e in events if e["event_type"] == "lead.scoring_requested"]
    # Two scoring requests (created, updated); the duplicate delivery published nothing.
    assert sorted(f["event_id"] for f in followups) == [
        "evt-7.lead.scoring_requested",
        "evt-8.lead.scoring_requested",
    ]
    # The scoring function answered them: the lead has a score (the global prior: no model yet),
    # announced at least once (two rescorings racing may both announce the first score).
    changed = [e for e in events if e["event_type"] == "lead.score_changed"]
    assert changed and {c["entity_id"] for c in changed} == {"lead-7"}
    assert (
        _wait_for(lambda: store.get("tenants/acme/lead_scores/lead-7"))["result"]["model_kind"]
        == "prior"
    )
    idem = store.query("tenants/acme/idempotency")
    assert len(idem) == 2 and all(d["state"] == "completed" for _, d in idem)


def test_a_malformed_event_reaches_the_dead_letter_topic(stack: Stack) -> None:
    pull(STACK_PROJECT, "crm-events-dead-letter-inspect", expect=10_000, timeout=0.5)
    _publish(stack, b'{"schema_version": "1", "event_type": "lead.created"}')
    [dead] = pull(STACK_PROJECT, "crm-events-dead-letter-inspect", expect=1, timeout=20)
    assert dead.attributes["error_code"] == "invalid_input"
    assert dead.attributes["error_field"] in {
        "event_id",
        "tenant_id",
        "entity_id",
        "occurred_at",
        "payload",
    }


def test_gateway_health_and_auth(stack: Stack, make_token: TokenFactory) -> None:
    gateway = stack.procs["gateway"].url
    health = httpx.get(f"{gateway}/health", timeout=10)
    assert health.status_code == 200
    assert all(c["ok"] for c in health.json()["components"].values())
    assert {"firestore", "pubsub", "cloud_tasks", "function:crm_events", "function:crm_api"} <= set(
        health.json()["components"]
    )
    assert httpx.get(f"{gateway}/api/v1/ai/crm/leads/x", timeout=10).status_code == 401
    assert httpx.get(f"{gateway}/api/v1/ai/nowhere", timeout=10).status_code == 404


def test_tenant_isolation_through_the_gateway(stack: Stack, make_token: TokenFactory) -> None:
    store = FirestoreStore.from_settings(load_settings(stack.env()))
    _publish(stack, crm_event(tenant_id="globex", entity_id="lead-g", event_id="evt-g"))
    _wait_for(lambda: store.get("tenants/globex/leads/lead-g"))
    gateway = stack.procs["gateway"].url
    globex = {"Authorization": "Bearer " + make_token("globex", ["viewer"])}
    acme = {"Authorization": "Bearer " + make_token("acme", ["admin"])}
    assert (
        httpx.get(f"{gateway}/api/v1/ai/crm/leads/lead-g", headers=globex, timeout=10).status_code
        == 200
    )
    assert (
        httpx.get(f"{gateway}/api/v1/ai/crm/leads/lead-g", headers=acme, timeout=10).status_code
        == 404
    )
    refused = httpx.get(
        f"{gateway}/api/v1/ai/crm/leads/lead-g",
        headers={**acme, "X-Tenant-ID": "globex"},
        timeout=10,
    )
    assert refused.status_code == 403
    log = (stack.state_dir / "logs" / "crm_api.log").read_text()
    assert any(
        '"security_event": "cross_tenant_access"' in line and '"attempted_tenant": "globex"' in line
        for line in log.splitlines()
    )


def test_a_crashed_function_is_restarted_and_serves_again(
    stack: Stack, make_token: TokenFactory
) -> None:
    """As the cloud replaces a crashed instance: scripts/up supervises the function processes
    (issue 15: one unit killed with SIGKILL used to stop the whole local stack)."""
    import os
    import signal

    from devstack.procs import wait_until_ready

    before = stack.procs["crm_api"]
    os.killpg(before.popen.pid, signal.SIGKILL)
    before.popen.wait(10)
    assert stack.supervise() == ["crm_api"] and stack.dead_components() == []
    wait_until_ready(stack.procs["crm_api"], http_path=None)
    assert stack.procs["crm_api"].popen.pid != before.popen.pid
    token = make_token("acme", ["viewer"])
    # Until the new process serves, the gateway answers 503 (retryable), as the cloud does.
    for _ in range(60):
        answer = httpx.get(
            stack.procs["gateway"].url + "/api/v1/ai/crm/leads/nobody",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        if answer.status_code != 503:
            break
        time.sleep(0.5)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert stack.supervise() == []  # nothing else to restart
