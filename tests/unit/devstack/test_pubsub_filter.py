"""The local push relay applies subscription filters as Pub/Sub does (the emulator ignores them)."""

from __future__ import annotations

import pytest

from devstack.pubsub_filter import compile_filter, equality
from devstack.topology import load_topology


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


def test_a_single_equality_is_recognised() -> None:
    assert equality('attributes.event_type = "lead.created"') == ("event_type", "lead.created")
    assert equality('attributes.`odd key` = "a \\"b\\""') == ("odd key", 'a "b"')
    for other in (
        'attributes.k != "v"',
        'attributes.k = "v" AND attributes.j = "w"',
        "attributes:k",
        "",
    ):
        assert equality(other) is None
