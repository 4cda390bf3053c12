"""The product's socket paths (issue 16): ``/ws/ai/workflows/{id}``, ``/ws/ai/insights/{id}`` and
``/ws/ai/scoring`` are the stream fixed to one subject, checked against the caller's tenant; and
replay from the durable copy when this instance never saw the events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from starlette.websockets import WebSocketDisconnect

from shared.capabilities.realtime.durable import StreamLog
from shared.capabilities.realtime.sockets import FORBIDDEN, NOT_FOUND
from tests.unit.realtime.test_service import event, service

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from tests.conftest import TokenFactory
    from tests.unit.realtime.test_service import Feed

__all__ = ["service"]  # the fixture, shared with test_service


def _open(client: TestClient, path: str, token: str) -> Any:
    return client.websocket_connect(path, subprotocols=["bearer", token])


def _refused(client: TestClient, path: str, token: str) -> tuple[int, str]:
    with _open(client, path, token) as ws:
        message = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    return closed.value.code, message["message"]


def test_a_run_path_streams_that_run_only(
    service: tuple[TestClient, Feed], make_token: TokenFactory
) -> None:
    client, feed = service
    assert feed.store is not None
    feed.store.set("tenants/acme/workflow_runs/run-1", {"run_id": "run-1"})
    run = ("workflow_run", "run-1")
    with _open(client, "/ws/ai/workflows/run-1", make_token("acme", ["viewer"])) as ws:
        ready = ws.receive_json()
        assert ready["stream"] == "workflows/run-1" and ready["event_types"] == ["workflow."]
        feed.push(event(1, "workflow.step_completed", entity=("workflow_run", "run-2")))
        feed.push(event(2, "lead.score_changed"))
        feed.push(event(3, "workflow.step_completed", entity=run))
        feed.push(event(4, "workflow.completed", tenant="globex", entity=run))
        assert ws.receive_json()["event"]["event_id"] == "e3"
        # The filter is the path: a subscribe may only ask for a replay.
        ws.send_json({"type": "subscribe", "event_types": ["lead.score_changed"]})
        refused = ws.receive_json()
        assert refused["type"] == "error" and refused["field"] == "event_types"
        ws.send_json({"type": "subscribe", "last_event_id": "e3"})
        assert ws.receive_json()["entities"] == ["workflow_run:run-1"]
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"  # nothing after e3 for this run


def test_another_tenants_run_or_customer_is_not_found(
    service: tuple[TestClient, Feed], make_token: TokenFactory
) -> None:
    client, feed = service
    assert feed.store is not None
    feed.store.set("tenants/globex/workflow_runs/run-g", {"run_id": "run-g"})
    feed.store.set("tenants/globex/customers/cust-g", {"customer_id": "cust-g"})
    acme = make_token("acme", ["admin"])
    for path in (
        "/ws/ai/workflows/run-g",  # another tenant's
        "/ws/ai/workflows/nope",  # none at all: the same answer
        "/ws/ai/insights/cust-g",
        "/ws/ai/workflows/__x__",  # not an id
    ):
        code, reason = _refused(client, path, acme)
        assert code == NOT_FOUND, (path, reason)
    assert "in your tenant" in _refused(client, "/ws/ai/workflows/run-g", acme)[1]


def test_a_role_without_the_paths_permission_is_refused(
    service: tuple[TestClient, Feed], make_token: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.core.auth import rbac

    client, feed = service
    assert feed.store is not None
    feed.store.set("tenants/acme/customers/c1", {"customer_id": "c1"})
    # A role that reads workflows but not insights (none such ships; the check must hold).
    grants = dict(rbac.ROLE_PERMISSIONS)
    grants[rbac.Role.VIEWER] = frozenset({rbac.Permission.WORKFLOWS_READ})
    monkeypatch.setattr(rbac, "ROLE_PERMISSIONS", grants)
    code, reason = _refused(client, "/ws/ai/insights/c1", make_token("acme", ["viewer"]))
    assert code == FORBIDDEN and "insights:read" in reason


def test_the_insights_and_scoring_paths(
    service: tuple[TestClient, Feed], make_token: TokenFactory
) -> None:
    client, feed = service
    assert feed.store is not None
    feed.store.set("tenants/acme/customers/c1", {"customer_id": "c1"})
    token = make_token("acme", ["viewer"])
    with (
        _open(client, "/ws/ai/insights/c1", token) as insights,
        _open(client, "/ws/ai/scoring", token) as scoring,
    ):
        assert insights.receive_json()["stream"] == "insights/c1"
        assert scoring.receive_json()["event_types"] == ["lead.score_changed"]
        feed.push(event(1, "insight.generated", entity=("customer", "c2")))
        feed.push(event(2, "insight.generated", entity=("customer", "c1")))
        feed.push(event(3, "lead.score_changed"))
        feed.push(event(4, "workflow.completed", entity=("workflow_run", "r")))
        assert insights.receive_json()["event"]["event_id"] == "e2"
        assert scoring.receive_json()["event"]["event_id"] == "e3"
        for ws in (insights, scoring):
            ws.send_json({"type": "ping"})
            assert ws.receive_json()["type"] == "pong"


def test_a_reconnect_replays_from_the_durable_copy_on_an_instance_that_never_saw_them(
    service: tuple[TestClient, Feed], make_token: TokenFactory
) -> None:
    """The events were kept by the push subscription while this instance was not running: its
    memory is empty, the durable copy is not."""
    client, feed = service
    assert feed.store is not None
    feed.store.set("tenants/acme/workflow_runs/run-1", {"run_id": "run-1"})
    kept = StreamLog(feed.store)
    run = ("workflow_run", "run-1")
    for n in range(1, 6):
        assert kept.record(event(n, "workflow.step_completed", entity=run))
    assert not kept.record(event(5, "workflow.step_completed", entity=run))  # once only
    assert not kept.record(event(6, "lead.scoring_requested"))  # never streamed: not kept
    kept.record(event(7, "workflow.step_completed", tenant="globex", entity=run))
    with _open(client, "/ws/ai/workflows/run-1", make_token("acme", ["viewer"])) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "last_event_id": "e2"})
        assert ws.receive_json()["type"] == "subscribed"
        assert [ws.receive_json()["event"]["event_id"] for _ in range(3)] == ["e3", "e4", "e5"]
        ws.send_json({"type": "subscribe", "last_event_id": "e7"})  # another tenant's
        ws.receive_json()
        assert ws.receive_json()["type"] == "resync"
