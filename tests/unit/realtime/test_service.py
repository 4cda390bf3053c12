"""The real-time service through Starlette's test client: authentication, tenancy, roles,
subscriptions, replay, slow clients. The hub is fed directly (the Pub/Sub intake has its own
integration test on the emulator)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from shared.capabilities.realtime import hub as hub_module
from shared.capabilities.realtime.app import build_app
from shared.capabilities.realtime.hub import Connection, Hub, Subscription, permission_for
from shared.capabilities.realtime.sockets import UNAUTHENTICATED
from shared.core.auth.principal import Principal
from shared.core.auth.tokens import TokenVerifier
from shared.core.messaging.pubsub import MemoryPublisher
from shared.core.store.memory import MemoryStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.conftest import TokenFactory


class Feed:
    """Stands in for the Pub/Sub intake: events are pushed onto the service's loop."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopped = False
        self.problem: str | None = None
        self.store: MemoryStore | None = None  # the runs, customers and durable event copy

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def stop(self) -> None:
        self.stopped = True

    def push(self, event: Any) -> None:
        assert self.loop is not None
        done = asyncio.run_coroutine_threadsafe(self._dispatch(event), self.loop)
        done.result(timeout=5)

    async def _dispatch(self, event: Any) -> None:
        self.hub.dispatch(event)


def event(
    n: int,
    kind: str = "lead.score_changed",
    tenant: str = "acme",
    entity: tuple[str, str] = ("lead", "lead-1"),
) -> dict[str, Any]:
    return {
        "event_id": f"e{n}",
        "event_type": kind,
        "tenant_id": tenant,
        "entity_type": entity[0],
        "entity_id": entity[1],
        "data": {"n": n},
    }


@pytest.fixture
def service(keys: tuple[Path, Path]) -> Iterator[tuple[TestClient, Feed]]:
    verifier = TokenVerifier(
        issuer="crm-dev", audience="crm-ai", public_key_pem=keys[1].read_text()
    )
    hub = Hub()
    feeds: list[Feed] = []
    store = MemoryStore()

    def intake(target: Hub) -> Feed:
        feeds.append(Feed(target))
        feeds[-1].store = store
        return feeds[-1]

    publisher = MemoryPublisher()
    app = build_app(
        hub=hub,
        verifier=lambda: verifier,
        intake=intake,
        store=lambda: store,
        publisher=lambda: publisher,
    )
    with TestClient(app) as client:
        yield client, feeds[0]
    assert feeds[0].stopped


def connect(client: TestClient, token: str) -> Any:
    return client.websocket_connect("/ws", subprotocols=["bearer", token])


def test_events_reach_their_tenant_only_and_only_what_roles_allow(
    service: tuple[TestClient, Feed], make_token: TokenFactory
) -> None:
    client, feed = service
    with (
        connect(client, make_token("acme", ["viewer"])) as viewer,
        connect(client, make_token("acme", ["manager"])) as manager,
        connect(client, make_token("globex", ["admin"])) as other,
    ):
        assert viewer.accepted_subprotocol == "bearer"
        ready = viewer.receive_json()
        assert ready["type"] == "ready" and ready["tenant_id"] == "acme"
        assert "scoring.drift_detected" not in ready["event_types"]
        assert "scoring.drift_detected" in manager.receive_json()["event_types"]
        other.receive_json()
        feed.push(event(1, "scoring.drift_detected", entity=("model", "v1")))
        feed.push(event(2))
        feed.push(event(3, "lead.scoring_requested"))  # internal: never streamed
        feed.push(event(4, tenant="globex"))
        assert viewer.receive_json()["event"]["event_id"] == "e2"
        assert [manager.receive_json()["event"]["event_id"] for _ in range(2)] == ["e1", "e2"]
        assert other.receive_json()["event"]["event_id"] == "e4"
        # Nothing else was queued for the viewer: the next thing it gets is its pong.
        viewer.send_json({"type": "ping"})
        assert viewer.receive_json()["type"] == "pong"


def test_bad_tokens_and_roles_are_refused_with_reasons(
    service: tuple[TestClient, Feed], make_token: TokenFactory
) -> None:
    client, _ = service
    for token, code, words in [
        ("not-a-jwt", UNAUTHENTICATED, "token is invalid"),
        (make_token("acme", ["viewer"], ttl_seconds=-120), UNAUTHENTICATED, "expired"),
        (make_token(None, ["service:pubsub"]), UNAUTHENTICATED, "service roles"),
    ]:
        with connect(client, token) as ws:
            refused = ws.receive_json()
            assert refused["type"] == "error" and words in refused["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == code
    with client.websocket_connect("/ws") as ws:  # no token at all
        assert "missing" in ws.receive_json()["message"]
    # The header and the query string work too (servers; last resort).
    token = make_token("acme", ["viewer"])
    with client.websocket_connect("/ws", headers={"Authorization": f"Bearer {token}"}) as ws:
        assert ws.receive_json()["type"] == "ready"
    # Never the query string: Cloud Run logs request URLs (issue 15, L4).
    with client.websocket_connect(f"/ws?access_token={token}") as ws:
        assert "missing" in ws.receive_json()["message"]


def test_subscriptions_narrow_the_stream_and_bad_ones_are_explained(
    service: tuple[TestClient, Feed], make_token: TokenFactory
) -> None:
    client, feed = service
    with connect(client, make_token("acme", ["viewer"])) as ws:
        ws.receive_json()
        for message, field in [
            ({"type": "subscribe", "event_types": ["scoring.drift_detected"]}, "event_types"),
            ({"type": "subscribe", "event_types": ["lead.scoring_requested"]}, "event_types"),
            ({"type": "subscribe", "event_types": "workflow."}, "event_types"),
            ({"type": "subscribe", "entities": ["lead-1"]}, "entities"),
            ({"type": "subscribe", "last_event_id": 7}, "last_event_id"),
            ({"type": "dance"}, "type"),
        ]:
            ws.send_json(message)
            error = ws.receive_json()
            assert error["type"] == "error" and error["field"] == field, error
        ws.send_text("{not json")
        assert ws.receive_json()["field"] == "message"
        ws.send_json(
            {"type": "subscribe", "event_types": ["workflow."], "entities": ["workflow_run:r1"]}
        )
        assert ws.receive_json() == {
            "type": "subscribed",
            "event_types": ["workflow."],
            "entities": ["workflow_run:r1"],
        }
        feed.push(event(1))
        feed.push(event(2, "workflow.step_completed", entity=("workflow_run", "r2")))
        feed.push(event(3, "workflow.step_completed", entity=("workflow_run", "r1")))
        assert ws.receive_json()["event"]["event_id"] == "e3"


def test_a_reconnecting_client_gets_what_it_missed_or_a_resync(
    service: tuple[TestClient, Feed], make_token: TokenFactory
) -> None:
    client, feed = service
    token = make_token("acme", ["rep"])
    for n in range(1, 6):
        feed.push(event(n))
    feed.push(event(3))  # Pub/Sub redelivers: not streamed twice
    with connect(client, token) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "last_event_id": "e3"})
        assert ws.receive_json()["type"] == "subscribed"
        assert [ws.receive_json()["event"]["event_id"] for _ in range(2)] == ["e4", "e5"]
        ws.send_json({"type": "subscribe", "last_event_id": "gone"})
        ws.receive_json()
        assert ws.receive_json()["type"] == "resync"
    assert client.get("/health").json() == {"status": "ok"}


def test_envelopes_without_their_fields_are_counted_not_streamed(
    service: tuple[TestClient, Feed], make_token: TokenFactory
) -> None:
    client, feed = service
    with connect(client, make_token("acme", ["viewer"])) as ws:
        ws.receive_json()
        feed.push(["not", "an", "object"])
        feed.push({"event_type": "lead.score_changed", "tenant_id": "acme"})
        feed.push(event(9))
        assert ws.receive_json()["event"]["event_id"] == "e9"
    assert feed.hub.counters["invalid"] == 2


def test_a_slow_client_loses_its_backlog_for_one_resync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hub_module, "QUEUE_SIZE", 3)
    hub = Hub()
    slow = Connection(Principal(subject="u", tenant_id="acme", roles=frozenset({"viewer"})))
    fast = Connection(Principal(subject="v", tenant_id="acme", roles=frozenset({"viewer"})))
    hub.add(slow)
    hub.add(fast)
    for n in range(5):
        hub.dispatch(event(n))
        fast.queue.get_nowait()  # keeps up
    assert slow.queue.qsize() == 2 and slow.dropped == 3
    assert [slow.queue.get_nowait()["type"] for _ in range(2)] == ["resync", "event"]
    assert hub.counters["delivered"] == 10


def test_streamed_types_map_to_permissions() -> None:
    assert permission_for("workflow.needs_human") is not None
    assert permission_for("workflowx") is None
    assert permission_for("lead.scoring_requested") is None
    viewer = Principal(subject="u", tenant_id="acme", roles=frozenset({"viewer"}))
    assert Subscription.parse({"event_types": ["workflow."]}, viewer).matches(
        event(1, "workflow.created", entity=("workflow_run", "r"))
    )


def test_the_socket_closes_when_its_token_expires(
    service: tuple[TestClient, Feed], make_token: TokenFactory
) -> None:
    client, _ = service
    # Expiry is in whole seconds: a 1-second token may have almost none left when it is minted,
    # so the binary-frame reply below could come after it (seen on a loaded CI machine).
    with connect(client, make_token("acme", ["viewer"], ttl_seconds=3)) as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(b"\x00binary")
        assert ws.receive_json()["message"] == "send JSON as text frames"
        expired = ws.receive_json()  # within about three seconds
        assert expired == {
            "type": "error",
            "error": "unauthenticated",
            "message": "token has expired",
        }
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == UNAUTHENTICATED


def test_events_past_the_replay_window_are_forgotten_for_every_tenant() -> None:
    now = [1000.0]
    hub = Hub(recent_seconds=900, clock=lambda: now[0])
    reader = Connection(Principal(subject="u", tenant_id="acme", roles=frozenset({"viewer"})))
    hub.dispatch(event(1))
    hub.dispatch(event(2, tenant="globex"))
    now[0] += 600
    hub.dispatch(event(3))
    assert [e["event_id"] for e in hub.replay(reader, "e1") or []] == ["e3"]
    now[0] += 600  # e1 and globex's e2 are now past the window
    hub.dispatch(event(4))
    assert hub.replay(reader, "e1") is None
    assert [e["event_id"] for e in hub.replay(reader, "e3") or []] == ["e4"]
    assert "globex" not in hub._recent  # swept, although globex had no new event
    hub.dispatch(event(1))  # no longer remembered: delivered again
    assert hub.counters["duplicates"] == 0


def test_health_fails_once_events_stop_flowing(service: tuple[TestClient, Feed]) -> None:
    client, feed = service
    assert client.get("/health").status_code == 200
    feed.problem = "the streaming pull ended: 404 subscription not found"
    failing = client.get("/health")
    # Public: no subscription path, error text or connection count (issue 15, L5).
    assert failing.status_code == 503 and failing.json() == {"status": "failing"}


def test_every_message_the_service_sends_is_in_the_documented_protocol(
    service: tuple[TestClient, Feed], make_token: TokenFactory
) -> None:
    """api/asyncapi.json is generated from shared/capabilities/realtime/messages.py: the real messages of a
    session (ready, subscribed, events, a replay, resync, pong, errors, a refusal) fit it."""
    from pydantic import TypeAdapter

    from shared.capabilities.realtime.messages import ServerMessage, Subscribe

    documented = TypeAdapter(ServerMessage)
    client, feed = service
    seen: list[dict[str, Any]] = []
    with connect(client, make_token("acme", ["manager"])) as ws:
        seen.append(ws.receive_json())
        feed.push(event(1))
        seen.append(ws.receive_json())
        for message in (
            {"type": "subscribe", "event_types": ["workflow."], "last_event_id": "e1"},
            {"type": "subscribe", "last_event_id": "gone"},
            {"type": "ping"},
            {"type": "dance"},
        ):
            if message["type"] == "subscribe":
                Subscribe.model_validate(message)  # what we document clients may send
            ws.send_json(message)
            seen.append(ws.receive_json())
        seen.append(ws.receive_json())  # the resync after the second subscribe's answer
        ws.send_text("{not json")
        seen.append(ws.receive_json())
    with connect(client, "not-a-jwt") as ws:
        seen.append(ws.receive_json())
    kinds = {documented.validate_python(message).type for message in seen}
    assert kinds == {"ready", "event", "subscribed", "resync", "pong", "error"}
