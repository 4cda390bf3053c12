from __future__ import annotations

import json

import pytest

from shared.capabilities.crm import parse_event
from shared.capabilities.crm.envelope import EVENT_TYPES, InteractionPayload
from shared.core.errors import InvalidInput
from tests.helpers import crm_event


def _raw(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_a_valid_event_parses_with_its_typed_payload() -> None:
    event, payload = parse_event(
        _raw(
            crm_event(
                "interaction.logged",
                payload={"channel": "email", "customer_id": "c1", "body": "hi"},
            )
        )
    )
    assert event.collection == "interactions"
    assert isinstance(payload, InteractionPayload) and payload.channel == "email"


def test_every_documented_type_is_known() -> None:
    assert set(EVENT_TYPES) == {
        "lead.created",
        "lead.updated",
        "lead.converted",
        "lead.lost",
        "contact.created",
        "contact.updated",
        "interaction.logged",
        "deal.stage_changed",
    }


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("tenant_id"), "tenant_id"),
        (lambda e: e.update(event_type="lead.exploded"), "event_type"),
        (lambda e: e.update(schema_version="2"), "schema_version"),
        (lambda e: e.update(occurred_at="yesterday"), "occurred_at"),
        (lambda e: e.update(occurred_at="2026-11-01T10:00:00"), "occurred_at"),
        (lambda e: e.update(entity_id="../x"), "entity_id"),
        (lambda e: e.update(version=-1), "version"),
        (lambda e: e.update(surprise=1), "surprise"),
        (lambda e: e["payload"].update(email="nope"), "payload.email"),
        (lambda e: e["payload"].update(estimated_value=-5), "payload.estimated_value"),
        (lambda e: e["payload"].update(colour="red"), "payload.colour"),
    ],
)
def test_bad_fields_are_named(mutate: object, field: str) -> None:
    event = crm_event()
    mutate(event)  # type: ignore[operator]
    with pytest.raises(InvalidInput) as info:
        parse_event(_raw(event))
    assert info.value.field == field
    assert field.split(".")[-1] in info.value.message


def test_interaction_needs_a_subject() -> None:
    with pytest.raises(InvalidInput, match="customer_id or lead_id"):
        parse_event(_raw(crm_event("interaction.logged", payload={"channel": "call"})))


@pytest.mark.parametrize("raw", [b"not json", b"[1,2]", b"\xff\xfe"])
def test_non_objects_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_event(raw)
    assert info.value.field == "data"
