from __future__ import annotations

import json

from shared.capabilities.crm import parse_event
from shared.capabilities.crm.readmodel import apply_event
from shared.core.store import MemoryStore
from shared.core.tenancy import TenantStore
from tests.helpers import crm_event


def _apply(scope: TenantStore, event: dict[str, object]) -> str:
    parsed, payload = parse_event(json.dumps(event).encode())
    return apply_event(scope, parsed, payload)


def test_updates_merge_and_stale_versions_are_ignored() -> None:
    scope = TenantStore(MemoryStore(), "acme")
    assert (
        _apply(
            scope,
            crm_event(
                version=1, payload={"email": "a@x.io", "company": "A", "custom_fields": {"size": 5}}
            ),
        )
        == "applied"
    )
    assert (
        _apply(
            scope,
            crm_event(
                "lead.updated",
                event_id="e3",
                version=3,
                payload={"title": "CTO", "custom_fields": {"tier": "gold"}},
            ),
        )
        == "applied"
    )
    assert (
        _apply(
            scope, crm_event("lead.updated", event_id="e2", version=2, payload={"title": "Intern"})
        )
        == "stale"
    )
    lead = scope.get("tenants/acme/leads/lead-1")
    assert lead is not None
    assert lead["title"] == "CTO" and lead["company"] == "A" and lead["status"] == "open"
    assert lead["custom_fields"] == {"size": 5, "tier": "gold"}
    assert lead["_meta"]["version"] == 3


def test_without_versions_the_newer_occurrence_wins() -> None:
    scope = TenantStore(MemoryStore(), "acme")
    _apply(scope, crm_event(version=None, occurred_at="2026-11-01T10:00:00Z"))
    assert (
        _apply(
            scope,
            crm_event(
                "lead.updated",
                event_id="e2",
                version=None,
                occurred_at="2026-11-01T09:00:00Z",
                payload={"title": "old"},
            ),
        )
        == "stale"
    )
    assert (
        _apply(
            scope,
            crm_event(
                "lead.updated",
                event_id="e3",
                version=None,
                occurred_at="2026-11-01T11:00:00Z",
                payload={"title": "new"},
            ),
        )
        == "applied"
    )


def test_the_same_event_again_counts_as_applied_without_rewriting() -> None:
    scope = TenantStore(MemoryStore(), "acme")
    event = crm_event()
    assert _apply(scope, event) == "applied"
    assert _apply(scope, event) == "applied"


def test_outcomes_set_the_lead_status() -> None:
    scope = TenantStore(MemoryStore(), "acme")
    _apply(scope, crm_event())
    _apply(scope, crm_event("lead.lost", event_id="e2", version=2, payload={"reason": "budget"}))
    lead = scope.get("tenants/acme/leads/lead-1")
    assert lead is not None and lead["status"] == "lost" and lead["outcome"]["reason"] == "budget"
