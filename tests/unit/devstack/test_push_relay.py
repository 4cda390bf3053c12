"""The local push relay keeps Pub/Sub's retry policy and holds a push while a crashed instance
is replaced (devstack/push_relay.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from devstack.push_relay import FailureCounts, RetryPolicy, push_endpoint

SUBSCRIPTIONS = {
    "events-push": {
        "name": "events-push",
        "push_function": "events",
        "ack_deadline_seconds": 60,
        "min_backoff_seconds": 5,
        "max_backoff_seconds": 300,
    },
    "plain-push": {"name": "plain-push", "push_function": "events", "ack_deadline_seconds": 10},
}


def _relay(answers: list[Any]) -> tuple[TestClient, list[float], list[httpx.Request]]:
    """A relay whose function answers ``answers`` in turn (a status, or an exception to raise)."""
    waits: list[float] = []
    seen: list[httpx.Request] = []

    def function(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, json={"status": answer})

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = httpx.AsyncClient(transport=httpx.MockTransport(function))
    handler = push_endpoint(
        SUBSCRIPTIONS, {"events": "http://fn"}, client, lambda aud: f"token-for-{aud}", sleep
    )
    app = Starlette(routes=[Route("/push/{subscription}", handler, methods=["POST"])])
    return TestClient(app), waits, seen


def _push(message_id: str) -> dict[str, Any]:
    data = base64.b64encode(json.dumps({"event_id": message_id}).encode()).decode()
    return {"message": {"messageId": message_id, "data": data}, "subscription": "s"}


def test_a_success_is_relayed_with_the_push_identity_token() -> None:
    client, waits, seen = _relay([200])
    answer = client.post("/push/events-push", json=_push("m1"))
    assert answer.status_code == 200 and waits == []
    assert seen[0].headers["authorization"] == "Bearer token-for-http://fn"
    assert json.loads(seen[0].content)["message"]["messageId"] == "m1"


def test_failed_attempts_are_held_for_the_retry_policy_backoff() -> None:
    client, waits, _ = _relay([500, 503, 500, 200, 500])
    statuses = [client.post("/push/events-push", json=_push("m1")).status_code for _ in range(4)]
    assert statuses == [500, 503, 500, 200]
    assert waits == [5.0, 10.0, 20.0]
    # A success forgets the message's failures: another failure starts from the minimum again.
    assert client.post("/push/events-push", json=_push("m1")).status_code == 500
    assert waits[-1] == 5.0


def test_failures_are_counted_per_message() -> None:
    client, waits, _ = _relay([500, 500, 500])
    for message_id in ("a", "b", "a"):
        client.post("/push/events-push", json=_push(message_id))
    assert waits == [5.0, 5.0, 10.0]


def test_a_subscription_without_a_retry_policy_answers_at_once() -> None:
    client, waits, _ = _relay([500])
    assert client.post("/push/plain-push", json=_push("m1")).status_code == 500
    assert waits == []


def test_a_push_waits_for_a_crashed_instance_to_be_replaced() -> None:
    refused = httpx.ConnectError("connection refused")
    client, waits, seen = _relay([refused, refused, refused, 200])
    answer = client.post("/push/events-push", json=_push("m1"))
    assert answer.status_code == 200 and len(seen) == 4 and len(waits) == 3


def test_an_instance_dying_with_the_push_in_hand_is_a_failed_delivery() -> None:
    client, waits, _ = _relay([httpx.RemoteProtocolError("server disconnected")])
    answer = client.post("/push/events-push", json=_push("m1"))
    assert answer.status_code == 503 and b"server disconnected" in answer.content
    assert waits == [5.0]


def test_an_unknown_subscription_is_not_found() -> None:
    client, _, seen = _relay([200])
    assert client.post("/push/nobody", json=_push("m1")).status_code == 404 and seen == []


def test_backoff_doubles_up_to_the_maximum() -> None:
    policy = RetryPolicy(5, 300)
    assert [policy.backoff(n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert RetryPolicy.of({"name": "x"}) is None


def test_failure_counts_are_bounded() -> None:
    counts = FailureCounts(limit=2)
    for message_id in ("a", "b", "c"):
        counts.failed(message_id)
    assert counts.failed("a") == 1  # the oldest was forgotten
    assert counts.failed("c") == 2


def test_a_message_the_filter_leaves_out_is_acknowledged_unseen() -> None:
    filtered = {
        "scoring-push": {
            "name": "scoring-push",
            "push_function": "events",
            "filter": 'attributes.event_type = "lead.scoring_requested"',
        }
    }
    seen: list[httpx.Request] = []

    def function(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(function))
    handler = push_endpoint(filtered, {"events": "http://fn"}, client, lambda aud: "t")
    app = TestClient(Starlette(routes=[Route("/push/{subscription}", handler, methods=["POST"])]))
    push = _push("m1")
    push["message"]["attributes"] = {"event_type": "workflow.step_completed"}
    assert app.post("/push/scoring-push", json=push).status_code == 204 and seen == []
    push["message"]["attributes"] = {"event_type": "lead.scoring_requested"}
    assert app.post("/push/scoring-push", json=push).status_code == 200 and len(seen) == 1


def _shared_relay(
    answers: list[int],
) -> tuple[TestClient, list[float], list[httpx.Request]]:
    """A relay for a shared subscription of two members (devstack/topology.py's shared_pushes)."""
    members = [
        {
            "name": "scoring-push",
            "push_function": "scoring",
            "push_path": "/score",
            "filter": 'attributes.event_type = "lead.scoring_requested"',
            "ack_deadline_seconds": 60,
            "min_backoff_seconds": 5,
            "max_backoff_seconds": 300,
        },
        {
            "name": "workflows-push",
            "push_function": "workflows",
            "filter": 'attributes.event_type = "interaction.inbound_message"',
            "ack_deadline_seconds": 30,
            "min_backoff_seconds": 7,
            "max_backoff_seconds": 300,
        },
    ]
    shared = {"events--by-event-type": {"name": "events--by-event-type", "members": members}}
    waits: list[float] = []
    seen: list[httpx.Request] = []

    def function(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(answers.pop(0))

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = httpx.AsyncClient(transport=httpx.MockTransport(function))
    urls = {"scoring": "http://scoring", "workflows": "http://workflows"}
    handler = push_endpoint(shared, urls, client, lambda aud: f"token-for-{aud}", sleep)
    app = Starlette(routes=[Route("/push/{subscription}", handler, methods=["POST"])])
    return TestClient(app), waits, seen


def _typed_push(message_id: str, event_type: str) -> dict[str, Any]:
    push = _push(message_id)
    push["message"]["attributes"] = {"event_type": event_type}
    return push


def test_a_shared_subscription_delivers_each_message_to_the_member_it_matches() -> None:
    client, waits, seen = _shared_relay([200, 500])
    answer = client.post(
        "/push/events--by-event-type", json=_typed_push("a", "lead.scoring_requested")
    )
    assert answer.status_code == 200
    assert str(seen[0].url) == "http://scoring/score"
    assert seen[0].headers["authorization"] == "Bearer token-for-http://scoring"
    # The member's own retry policy holds a failure.
    failed = _typed_push("b", "interaction.inbound_message")
    assert client.post("/push/events--by-event-type", json=failed).status_code == 500
    assert str(seen[1].url) == "http://workflows/" and waits == [7.0]
    # A message no member's filter matches is acknowledged unseen.
    other = _typed_push("c", "workflow.step_completed")
    assert client.post("/push/events--by-event-type", json=other).status_code == 204
    assert len(seen) == 2
