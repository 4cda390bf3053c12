"""Which push subscriptions the local emulator delivers through one shared subscription
(devstack/topology.py's shared_pushes): only members whose filters exclude each other."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devstack import topology

if TYPE_CHECKING:
    import pytest


def _sub(name: str, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "topic": "events",
        "push_function": name,
        "filter": f'attributes.event_type = "{value}"',
        "ack_deadline_seconds": 30,
        "dead_letter_topic": "dead",
        "max_delivery_attempts": 5,
        **extra,
    }


def _with(monkeypatch: pytest.MonkeyPatch, *subs: dict[str, Any]) -> None:
    monkeypatch.setattr(topology, "load_topology", lambda: {"subscriptions": list(subs)})


def test_the_ai_events_filtered_pushes_share_one_subscription() -> None:
    running = {"scoring_events", "workflow_events", "insights_events", "realtime"}
    shared = topology.shared_pushes(running)
    assert list(shared) == ["ai-events--by-event-type"]
    group = shared["ai-events--by-event-type"]
    assert sorted(m["name"] for m in group["members"]) == [
        "ai-events-insights",
        "ai-events-scoring",
        "ai-events-workflows",
    ]
    # The longest member deadline, so the relay can keep each member's own.
    assert group["ack_deadline_seconds"] == 60
    assert group["dead_letter_topic"] == "ai-events-dead-letter"
    # The unfiltered stream keeps its own subscription.
    assert not any(m["name"] == "ai-events-stream" for m in group["members"])


def test_only_running_functions_take_part(monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, _sub("a", "x"), _sub("b", "y"), _sub("c", "z"))
    assert topology.shared_pushes({"a"}) == {}
    members = topology.shared_pushes({"a", "c"})["events--by-event-type"]["members"]
    assert [m["name"] for m in members] == ["a", "c"]


def test_filters_that_may_both_match_are_not_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, _sub("a", "x"), _sub("b", "x"))
    assert topology.shared_pushes({"a", "b"}) == {}
    not_equality = _sub("b", "y", filter='hasPrefix(attributes.event_type, "y")')
    _with(monkeypatch, _sub("a", "x"), not_equality)
    assert topology.shared_pushes({"a", "b"}) == {}


def test_members_must_agree_on_dead_letters_and_ordering(monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, _sub("a", "x"), _sub("b", "y", max_delivery_attempts=10))
    assert topology.shared_pushes({"a", "b"}) == {}
    _with(monkeypatch, _sub("a", "x"), _sub("b", "y", enable_message_ordering=True))
    assert topology.shared_pushes({"a", "b"}) == {}
    _with(monkeypatch, _sub("a", "x"), _sub("b", "y", filter='attributes.kind = "y"'))
    assert topology.shared_pushes({"a", "b"}) == {}
