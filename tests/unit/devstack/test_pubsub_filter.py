"""The local push relay applies subscription filters as Pub/Sub does (the emulator ignores them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from devstack.identity import build_app
from devstack.pubsub_filter import compile_filter
from devstack.topology import load_topology
from tests.helpers import pubsub_push_body


@pytest.mark.parametrize(
    ("text", "attributes", "expected"),
    [
        ("", {}, True),
        ('attributes.event_type = "a"', {"event_type": "a"}, True),
        ('attributes.event_type = "a"', {"event_type": "b"}, False),
        ('attributes.event_type = "a"', {}, False),
        ('attributes.event_type != "a"', {"event_type": "b"}, True),
        ('attributes.event_type != "a"', {"event_type": "a"}, False),
        ("attributes:tenant", {"tenant": ""}, True),
        ("NOT attributes:tenant", {"tenant": "x"}, False),
        ("-attributes:tenant", {}, True),
        ('hasPrefix(attributes.event_type, "lead.")', {"event_type": "lead.scored"}, True),
        ('hasPrefix(attributes.event_type, "lead.")', {"event_type": "workflow.step"}, False),
        ('hasPrefix(attributes.event_type, "lead.")', {}, False),
        ('attributes.a = "1" AND attributes.b = "2"', {"a": "1", "b": "2"}, True),
        ('attributes.a = "1" AND attributes.b = "2"', {"a": "1", "b": "3"}, False),
        ('attributes.a = "1" OR attributes.b = "2"', {"a": "0", "b": "2"}, True),
        ('(attributes.a = "1" OR attributes.a = "2") AND NOT attributes:c', {"a": "2"}, True),
        (
            '(attributes.a = "1" OR attributes.a = "2") AND NOT attributes:c',
            {"a": "2", "c": ""},
            False,
        ),
        ('attributes.`odd key` = "with \\"quote\\""', {"odd key": 'with "quote"'}, True),
    ],
)
def test_a_filter_matches_as_documented(
    text: str, attributes: dict[str, str], expected: bool
) -> None:
    assert compile_filter(text)(attributes) is expected


@pytest.mark.parametrize(
    "text",
    [
        'attributes.a = "1" AND attributes.b = "2" OR attributes.c = "3"',  # needs parentheses
        "attributes.a = 1",  # values are strings
        'attributes.a = "1" )',
        'data.a = "1"',  # only attributes can be filtered on
        "(attributes:a",
    ],
)
def test_a_filter_outside_the_grammar_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="filter"):
        compile_filter(text)


def test_every_declared_filter_compiles_and_lets_its_own_event_through() -> None:
    filtered = [s for s in load_topology()["subscriptions"] if s.get("filter")]
    assert filtered  # scoring, workflows and insights subscribe to one event type each
    for sub in filtered:
        event_type = sub["filter"].split('"')[1]
        assert compile_filter(sub["filter"])({"event_type": event_type}), sub["name"]
        assert not compile_filter(sub["filter"])({"event_type": "workflow.step"}), sub["name"]


def test_the_relay_acknowledges_a_filtered_out_message_without_delivering_it(
    tmp_path: Path,
) -> None:
    # The function's address is closed: a delivery attempt answers 503, an acknowledgement 204.
    app = build_app(tmp_path, "http://issuer", {"scoring_events": "http://127.0.0.1:9"}, "p")
    with TestClient(app) as client:
        other = pubsub_push_body({}, "m-1", tenant_id="acme", event_type="workflow.step")
        assert client.post("/push/ai-events-scoring", json=other).status_code == 204
        wanted = pubsub_push_body({}, "m-2", tenant_id="acme", event_type="lead.scoring_requested")
        assert client.post("/push/ai-events-scoring", json=wanted).status_code == 503
