from __future__ import annotations

import json

from shared.capabilities.crm import parse_event
from shared.capabilities.crm.followups import followups_for
from tests.helpers import crm_event


def _kinds(event: dict[str, object]) -> list[tuple[str, str]]:
    parsed, payload = parse_event(json.dumps(event).encode())
    return [(f["event_type"], f["entity_id"]) for f in followups_for(parsed, payload)]


def test_each_change_asks_for_the_right_follow_ups() -> None:
    assert _kinds(crm_event()) == [("lead.scoring_requested", "lead-1")]
    assert _kinds(crm_event("lead.converted", payload={})) == [("lead.outcome_recorded", "lead-1")]
    assert _kinds(crm_event("contact.updated", entity_id="c1", payload={"title": "x"})) == [
        ("customer.history_changed", "c1")
    ]
    assert _kinds(
        crm_event(
            "interaction.logged",
            entity_id="i1",
            payload={"channel": "support_message", "direction": "inbound", "customer_id": "c1"},
        )
    ) == [("customer.history_changed", "c1"), ("interaction.inbound_message", "i1")]
    assert _kinds(
        crm_event(
            "deal.stage_changed",
            entity_id="d1",
            payload={"stage": "closed", "status": "won", "lead_id": "l9"},
        )
    ) == [("deal.stage_changed", "d1"), ("lead.outcome_recorded", "l9")]


def test_follow_up_ids_are_deterministic() -> None:
    parsed, payload = parse_event(json.dumps(crm_event(event_id="abc")).encode())
    assert followups_for(parsed, payload)[0]["event_id"] == "abc.lead.scoring_requested"
