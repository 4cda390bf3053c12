"""Workflows end to end on the emulators: HTTP through the gateway into workflows_api, Cloud
Tasks (emulator) into the workflow_runner process, LangGraph checkpoints in Firestore, models
through the provider simulator."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from shared.core.config import load_settings
from shared.core.store.firestore import FirestoreStore
from tests.functions.conftest import pull
from tests.integration.conftest import STACK_PROJECT

if TYPE_CHECKING:
    from collections.abc import Iterator

    from devstack.stack import Stack
    from tests.conftest import TokenFactory

LEAD = {
    "lead_id": "lead-7",
    "name": "Ada Lovelace",
    "title": "CTO",
    "company": "Analytical Engines",
    "source": "webinar",
    "_meta": {"version": 1},
}


def _seed(stack: Stack) -> FirestoreStore:
    store = FirestoreStore.from_settings(load_settings(stack.env()))
    store.set("tenants/acme", {"tenant_id": "acme"})
    store.set("tenants/acme/leads/lead-7", dict(LEAD))
    store.set("tenants/acme/customers/cust-1", {"customer_id": "cust-1", "name": "Initech"})
    store.set(
        "tenants/acme/interactions/i-1",
        {
            "customer_id": "cust-1",
            "channel": "email",
            "summary": "Asked about the renewal price",
            "updated_at": "2026-11-20T10:00:00+00:00",
        },
    )
    return store


_CLIENTS: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


@pytest.fixture
def stack_sim(stack: Stack) -> Iterator[httpx.Client]:
    """Admin access to the stack's own provider simulator, cleared before and after."""
    client = httpx.Client(base_url=stack.procs["simulator"].url, timeout=10)
    client.delete("/_sim/faults")
    try:
        yield client
    finally:
        client.delete("/_sim/faults")
        client.close()


def _api(stack: Stack, make_token: TokenFactory, role: str = "rep") -> httpx.Client:
    client = httpx.Client(
        base_url=stack.procs["gateway"].url + "/api/v1/ai/workflows",
        headers={"Authorization": "Bearer " + make_token("acme", [role])},
        timeout=30,
    )
    _CLIENTS.append(client)
    return client


def _until(
    api: httpx.Client, run_id: str, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = api.get(f"/{run_id}").json()
        if body["status"] in statuses:
            return body
        time.sleep(0.2)
    raise AssertionError(f"run stayed {body.get('status')}: {json.dumps(body)[:2000]}")


def test_lead_qualification_end_to_end(stack: Stack, make_token: TokenFactory) -> None:
    _seed(stack)
    api = _api(stack, make_token)
    body = {"type": "lead_qualification", "lead_id": "lead-7"}
    started = api.post("", json=body, headers={"Idempotency-Key": "q-lead-7"})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    again = api.post("", json=body, headers={"Idempotency-Key": "q-lead-7"})
    assert again.json()["run_id"] == run_id
    run = _until(api, run_id, {"completed", "failed"})
    assert run["status"] == "completed", run
    assert run["output"]["outcome"] in ("route_to_rep", "nurture", "disqualify")
    assert run["output"]["reasons"]
    nodes = [s["node"] for s in run["steps"]]
    assert nodes[0] == "coordinator" and "lead_analysis" in nodes and "decision" in nodes
    assert nodes[-1] == "finish"
    llm = [a for a in run["actions"] if a.get("template")]
    assert {a["template"] for a in llm} == {"lead_analysis@v1", "qualification_decision@v1"}
    assert all(a["input_tokens"] > 0 and a["cost_usd"] > 0 for a in llm)
    assert run["tokens"] > 0 and run["cost_usd"] > 0
    listed = api.get("", params={"status": "completed", "type": "lead_qualification"}).json()
    assert run_id in [r["run_id"] for r in listed["runs"]]


def test_outreach_draft_pauses_for_approval_and_one_continue_wins(
    stack: Stack, make_token: TokenFactory
) -> None:
    store = _seed(stack)
    pull(STACK_PROJECT, "ai-events-audit", expect=10_000, timeout=0.5)
    api = _api(stack, make_token)
    run_id = api.post(
        "", json={"type": "outreach_draft", "lead_id": "lead-7", "input": {"goal": "book a demo"}}
    ).json()["run_id"]
    waiting = _until(api, run_id, {"waiting_for_human", "failed"})
    assert waiting["status"] == "waiting_for_human", waiting
    task = waiting["pending_task"]
    assert task["kind"] == "approve_draft" and task["payload"]["draft"]["body"]
    stale = api.put(f"/{run_id}/continue", json={"task_id": "old", "decision": "approve"})
    assert stale.status_code == 409 and stale.json()["error"]["field"] == "task_id"
    bad = api.put(f"/{run_id}/continue", json={"task_id": task["task_id"], "decision": "maybe"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "decision"
    viewer = _api(stack, make_token, "viewer")
    assert (
        viewer.put(
            f"/{run_id}/continue", json={"task_id": task["task_id"], "decision": "approve"}
        ).status_code
        == 403
    )

    results: list[int] = []

    def decide(decision: str) -> None:
        edit = {"edited": {"subject": "Edited subject"}} if decision == "edit" else {}
        res = _api(stack, make_token).put(
            f"/{run_id}/continue", json={"task_id": task["task_id"], "decision": decision, **edit}
        )
        results.append(res.status_code)

    racers = [threading.Thread(target=decide, args=(d,)) for d in ("edit", "approve")]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert sorted(results) == [202, 409]  # two concurrent decisions: exactly one wins
    done = _until(api, run_id, {"completed", "failed"})
    assert done["status"] == "completed" and done["output"]["outcome"] == "sent", done
    events = [
        json.loads(m.data) for m in pull(STACK_PROJECT, "ai-events-audit", expect=50, timeout=5)
    ]
    sends = [e for e in events if e["event_type"] == "communication.send_requested"]
    assert len(sends) == 1 and sends[0]["data"]["lead_id"] == "lead-7"
    assert {"workflow.step_completed", "workflow.status_changed"} <= {
        e["event_type"] for e in events
    }
    outcomes = store.query("tenants/acme/prompt_outcomes")
    assert [d["ref"] for _, d in outcomes] == [run_id]


def test_triage_and_cancel(stack: Stack, make_token: TokenFactory) -> None:
    _seed(stack)
    api = _api(stack, make_token)
    missing = api.post(
        "", json={"type": "interaction_triage", "customer_id": "cust-1", "input": {}}
    )
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "input.message"
    kb = httpx.Client(
        base_url=stack.procs["gateway"].url + "/api/v1/ai/knowledge",
        headers={"Authorization": "Bearer " + make_token("acme", ["admin"])},
        timeout=60,
    )
    _CLIENTS.append(kb)
    added = kb.post(
        "",
        json={
            "doc_id": "pricing",
            "title": "Renewal pricing",
            "content": "Renewal prices are fixed for 12 months. A wrong price on an invoice is corrected by "
            "billing within two business days and the difference is credited.",
        },
    )
    assert added.status_code == 201, added.text
    run_id = api.post(
        "",
        json={
            "type": "interaction_triage",
            "customer_id": "cust-1",
            "input": {"message": "Our invoice shows the wrong renewal price, please fix it today."},
        },
    ).json()["run_id"]
    run = _until(api, run_id, {"waiting_for_human", "completed", "failed"})
    assert run["status"] in ("waiting_for_human", "completed"), run
    assert run["context"]["interactions"][0]["summary"] == "Asked about the renewal price"
    classify = next(a for a in run["actions"] if a.get("template") == "interaction_classify@v1")
    assert classify["cost_usd"] > 0
    retrieval = next(a for a in run["actions"] if a["action"] == "retrieve_knowledge")
    assert "pricing" in retrieval["summary"]  # the reply is grounded in the knowledge base
    draft_tpl = next(a for a in run["actions"] if a.get("template", "") == "reply_draft@v2")
    assert draft_tpl["cost_usd"] > 0
    if run["status"] == "waiting_for_human":  # the hand-off policy fired: a person decides
        assert run["pending_task"]["kind"] == "review_triage"
        assert run["pending_task"]["payload"]["draft"]["citations"][0]["id"] == "pricing"
        cancelled = api.delete(f"/{run_id}")
        assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    else:
        assert run["output"]["outcome"] == "drafted" and run["output"]["draft"]["body"]
        assert run["output"]["draft"]["citations"][0]["id"] == "pricing"
    assert api.get("/wf-unknown").status_code == 404


def test_an_inbound_support_message_starts_triage_when_the_tenant_says_so(
    stack: Stack, make_token: TokenFactory
) -> None:
    from shared.core.config import TOPIC_CRM_EVENTS
    from shared.core.messaging.pubsub import PubSubPublisher, ordering_key
    from tests.helpers import crm_event

    store = _seed(stack)
    admin = httpx.Client(
        base_url=stack.procs["gateway"].url + "/api/v1/ai/workflow-triggers",
        headers={"Authorization": "Bearer " + make_token("acme", ["admin"])},
        timeout=30,
    )
    _CLIENTS.append(admin)
    bad = admin.put("", json={"triggers": {"lead.created": {"type": "outreach_draft"}}})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "triggers.lead.created"
    ok = admin.put(
        "", json={"triggers": {"interaction.inbound_message": {"type": "interaction_triage"}}}
    )
    assert ok.status_code == 200, ok.text
    event = crm_event(
        "interaction.logged",
        event_id="evt-inbound-1",
        entity_id="int-9",
        payload={
            "channel": "support_message",
            "direction": "inbound",
            "customer_id": "cust-1",
            "subject": "Login broken",
            "body": "I cannot log in since this morning, please help.",
        },
    )
    publisher = PubSubPublisher.from_settings(load_settings(stack.env()))
    publisher.publish(
        TOPIC_CRM_EVENTS,
        event,
        ordering_key=ordering_key("acme", "int-9"),
        attributes={"tenant_id": "acme"},
    )
    deadline = time.monotonic() + 60
    runs: list[Any] = []
    while time.monotonic() < deadline and not runs:
        runs = store.query(
            "tenants/acme/workflow_runs", where=[("type", "==", "interaction_triage")]
        )
        time.sleep(0.2)
    assert len(runs) == 1, "the inbound message did not start a triage run"
    run_id, doc = runs[0]
    assert doc["context"]["input"]["message"].startswith("I cannot log in")
    assert doc["created_by"] == "event:interaction.inbound_message"
    api = _api(stack, make_token)
    run = _until(api, run_id, {"waiting_for_human", "completed", "failed"})
    assert run["status"] in ("waiting_for_human", "completed"), run


def test_cancelling_a_running_run_stops_it_at_the_next_step(
    stack: Stack, make_token: TokenFactory, stack_sim: httpx.Client
) -> None:
    _seed(stack)
    api = _api(stack, make_token)
    stack_sim.post("/_sim/config", json={"latency_ms": 1500})
    run_id = api.post("", json={"type": "lead_qualification", "lead_id": "lead-7"}).json()["run_id"]
    _until(api, run_id, {"running"})
    cancelling = api.delete(f"/{run_id}")
    assert cancelling.status_code == 202 and cancelling.json()["cancel_requested"] is True
    run = _until(api, run_id, {"cancelled", "completed", "failed"}, timeout=60)
    assert run["status"] == "cancelled", run
    assert "decision" not in [s["node"] for s in run["steps"]]  # stopped before the next agent


def test_a_runner_killed_mid_step_resumes_without_repeating_completed_steps(
    stack: Stack, make_token: TokenFactory, stack_sim: httpx.Client
) -> None:
    import os
    import signal

    from devstack.procs import wait_until_ready

    store = _seed(stack)
    api = _api(stack, make_token)
    run_id = api.post("", json={"type": "outreach_draft", "lead_id": "lead-7"}).json()["run_id"]
    # Let the first model step finish, then make the next one slow and kill the runner inside it.
    _until_step = time.monotonic() + 60
    while time.monotonic() < _until_step:
        run = api.get(f"/{run_id}").json()
        if any(s["node"] == "lead_analysis" for s in run["steps"]):
            break
        time.sleep(0.05)
    stack_sim.post("/_sim/config", json={"latency_ms": 3000})
    time.sleep(1.0)  # the runner is now waiting on the slow content_generation call
    runner = stack.procs["workflow_runner"]
    os.killpg(runner.popen.pid, signal.SIGKILL)
    runner.popen.wait(10)
    stack_sim.post("/_sim/config", json={"latency_ms": 0})
    wait_until_ready(stack.start_function("workflow_runner"), http_path=None)
    # Cloud Tasks redelivers; after the dead runner's lease (4 s here) the new one takes over.
    run = _until(api, run_id, {"waiting_for_human", "failed"}, timeout=90)
    assert run["status"] == "waiting_for_human", run
    assert [s["node"] for s in run["steps"]].count("lead_analysis") == 1
    usage = [d for _, d in store.query("tenants/acme/llm_usage")]
    assert [d["template_id"] for d in usage].count("lead_analysis") == 1  # not called again


def test_when_every_provider_is_down_the_run_degrades_then_hands_off_to_a_person(
    stack: Stack, make_token: TokenFactory, stack_sim: httpx.Client
) -> None:
    _seed(stack)
    pull(STACK_PROJECT, "ai-events-audit", expect=10_000, timeout=0.5)
    api = _api(stack, make_token)
    stack_sim.post(
        "/_sim/faults", json={"provider": "*", "model": "*", "fault": {"status": 503}, "times": 200}
    )
    run_id = api.post("", json={"type": "lead_qualification", "lead_id": "lead-7"}).json()["run_id"]
    run = _until(api, run_id, {"completed", "failed"}, timeout=120)
    # Two failed multi-agent attempts -> the single-agent path -> two failures -> a person.
    assert run["status"] == "failed" and run["mode"] == "single_agent", run
    assert "multi-agent path failed" in run["degraded"]
    assert "single-agent path failed too" in run["degraded"]
    assert run["pending_task"]["kind"] == "handoff"
    assert "every LLM provider failed" in run["error"]
    events = [
        json.loads(m.data) for m in pull(STACK_PROJECT, "ai-events-audit", expect=30, timeout=5)
    ]
    kinds = {e["event_type"] for e in events if e["entity_id"] == run_id}
    assert {"workflow.degraded", "workflow.needs_human"} <= kinds
    # The runner's circuit breakers now stay open for their 30 s cooldown: a fresh instance, as
    # the cloud would start, so the tests after this one do not inherit this outage.
    _restart_runner(stack)


def _restart_runner(stack: Stack) -> None:
    import os
    import signal

    from devstack.procs import wait_until_ready

    runner = stack.procs["workflow_runner"]
    os.killpg(runner.popen.pid, signal.SIGKILL)
    runner.popen.wait(10)
    stack.supervise()
    wait_until_ready(stack.procs["workflow_runner"], http_path=None)
