"""The product's socket paths on the local stack, and replay across instances (issue 16): a
client reads a run's updates from one real-time instance, goes away, and reconnects to an
instance started after the events it missed: they come from the durable copy the
``ai-events-stream`` push subscription keeps (through the local push relay, with Pub/Sub's OIDC
token, as in the cloud)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from devstack.procs import free_port, wait_until_ready
from shared.core.config import TOPIC_AI_EVENTS, load_settings
from shared.core.messaging.pubsub import PubSubPublisher, ordering_key
from shared.core.store.firestore import FirestoreStore

if TYPE_CHECKING:
    from devstack.stack import Stack
    from tests.conftest import TokenFactory

TENANT = "rt-paths"


def _publish(stack: Stack, n: int, run_id: str) -> str:
    publisher = PubSubPublisher.from_settings(load_settings(stack.env()))
    event_id = f"{run_id}.step-{n}"
    publisher.publish(
        TOPIC_AI_EVENTS,
        {
            "event_id": event_id,
            "event_type": "workflow.step_completed",
            "tenant_id": TENANT,
            "entity_type": "workflow_run",
            "entity_id": run_id,
            "data": {"step": n},
        },
        ordering_key=ordering_key(TENANT, run_id),
        attributes={"tenant_id": TENANT, "event_type": "workflow.step_completed"},
    )
    return event_id


def _socket(url: str, path: str, token: str) -> Any:
    return connect(
        url.replace("http://", "ws://") + path,
        subprotocols=["bearer", token],  # type: ignore[list-item]
        open_timeout=10,
    )


def _events(ws: Any, count: int, timeout: float = 30) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] == "event":
            got.append(message["event"]["event_id"])
        assert message["type"] != "resync", message
    return got


def test_a_reconnect_to_a_new_instance_replays_what_it_missed(
    stack: Stack, make_token: TokenFactory
) -> None:
    store = FirestoreStore.from_settings(load_settings(stack.env()))
    run_id = "wf-replay-1"
    store.set(f"tenants/{TENANT}/workflow_runs/{run_id}", {"run_id": run_id})
    token = make_token(TENANT, ["viewer"])
    first = stack.procs["realtime"].url
    with _socket(first, f"/ws/ai/workflows/{run_id}", token) as ws:
        ready = json.loads(ws.recv(timeout=10))
        assert ready["stream"] == f"workflows/{run_id}"
        seen = [_publish(stack, n, run_id) for n in range(1, 11)]
        assert _events(ws, 10) == seen
    # Gone; ten more updates happen; then a new instance starts (a scale-out, a restart).
    missed = [_publish(stack, n, run_id) for n in range(11, 21)]

    def kept() -> int:
        return sum(
            1
            for _, d in store.query(f"tenants/{TENANT}/stream_events")
            if d["event"]["event_id"] in missed
        )

    deadline = time.monotonic() + 60
    while kept() < len(missed) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kept() == len(missed), "the push subscription did not keep the events"
    port = free_port()
    second = stack.start_realtime("realtime-b", port)
    try:
        wait_until_ready(second, http_path="/health")
        started = time.monotonic()
        with _socket(second.url, f"/ws/ai/workflows/{run_id}", token) as ws:
            json.loads(ws.recv(timeout=10))
            ws.send(json.dumps({"type": "subscribe", "last_event_id": seen[-1]}))
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
            replayed = _events(ws, len(missed))
            took = time.monotonic() - started
        assert replayed == missed
        # The new instance streams live updates too.
        with _socket(second.url, f"/ws/ai/workflows/{run_id}", token) as ws:
            json.loads(ws.recv(timeout=10))
            live = _publish(stack, 21, run_id)
            assert _events(ws, 1, timeout=60) == [live]
    finally:
        second.stop()
    print(
        f"\nreplay on a new instance: {len(replayed)} missed events replayed from the durable "
        f"copy in {took * 1000:.0f} ms (connect, subscribe, replay)"
    )


def test_paths_are_tenant_checked_and_the_push_endpoint_needs_pubsubs_token(
    stack: Stack, make_token: TokenFactory
) -> None:
    store = FirestoreStore.from_settings(load_settings(stack.env()))
    store.set("tenants/rt-other/workflow_runs/wf-theirs", {"run_id": "wf-theirs"})
    url = stack.procs["realtime"].url
    token = make_token(TENANT, ["admin"])
    with _socket(url, "/ws/ai/workflows/wf-theirs", token) as ws:
        refused = json.loads(ws.recv(timeout=10))
        assert refused["error"] == "not_found"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
    with _socket(url, "/ws/ai/scoring", token) as ws:
        assert json.loads(ws.recv(timeout=10))["stream"] == "scoring"
    # Only Pub/Sub's push identity may write the durable copy.
    envelope = {"message": {"data": "e30=", "messageId": "x"}, "subscription": "s"}
    for headers in (
        {},
        {"Authorization": f"Bearer {token}"},
        {"Authorization": "Bearer " + stack.service_token("scheduler", url)},
    ):
        assert (
            httpx.post(f"{url}/_events", json=envelope, headers=headers, timeout=10).status_code
            == 401
        )
