"""New history refreshes a high-priority customer's insights at once, unless the budget is kept
for interactive chat; other customers' insights just go stale."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from shared.ai.llm.policy import Limit, LLMPolicy
from shared.capabilities.crm.ingest import PubSubMessage
from shared.capabilities.insights.history import handle_history_event
from shared.capabilities.insights.service import generate
from shared.core.tenancy.scope import TenantStore
from shared.edge import services

if TYPE_CHECKING:
    from tests.conftest import TokenFactory


def _event(customer: str, interaction: str) -> PubSubMessage:
    body = {
        "event_id": f"e-{interaction}",
        "event_type": "customer.history_changed",
        "tenant_id": "acme",
        "entity_type": "customer",
        "entity_id": customer,
        "data": {"interaction_id": interaction},
    }
    return PubSubMessage("m-1", json.dumps(body).encode())


@pytest.fixture
def scope(
    function_client: Any, simulator_url: str, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> TenantStore:
    monkeypatch.setenv("LLM_SIMULATOR_URL", simulator_url)
    services.reset()
    scope = TenantStore(services.current().store, "acme")
    for cid, priority in (("vip", "high"), ("std", "normal")):
        scope.set(scope.path("customers", cid), {"customer_id": cid, "priority": priority})
        scope.set(
            scope.path("interactions", f"{cid}-1"),
            {
                "customer_id": cid,
                "channel": "email",
                "body": "Renewal is next month.",
                "occurred_at": "2026-11-01T09:00:00+00:00",
            },
        )
        generate(scope, services.current().llm, services.current().embedder, cid, ["churn_risk"])
        scope.set(
            scope.path("interactions", f"{cid}-2"),
            {
                "customer_id": cid,
                "channel": "email",
                "body": "We are unhappy with support.",
                "occurred_at": "2026-11-20T09:00:00+00:00",
            },
        )
    return scope


def _insight(scope: TenantStore, cid: str) -> dict[str, Any]:
    return scope.get(scope.path("insights", f"{cid}-churn_risk")) or {}


def test_high_priority_customers_are_refreshed_others_go_stale(
    scope: TenantStore, make_token: TokenFactory
) -> None:
    before = _insight(scope, "vip")["generated_at"]
    vip = handle_history_event(
        _event("vip", "vip-2"),
        services.current().store,
        services.current().embedder,
        services.current().llm,
        None,
    )
    assert vip["refreshed"] == ["churn_risk"]
    assert (
        _insight(scope, "vip")["stale"] is False
        and _insight(scope, "vip")["generated_at"] >= before
    )
    std = handle_history_event(
        _event("std", "std-2"),
        services.current().store,
        services.current().embedder,
        services.current().llm,
        None,
    )
    assert std["refreshed"] == [] and _insight(scope, "std")["stale"] is True


def test_a_nearly_spent_budget_is_kept_for_chat(scope: TenantStore) -> None:
    from shared.ai.llm import CallContext, LLMRequest, Message

    policies = services.current().policies
    policies.put("acme", LLMPolicy(budget=Limit(monthly_usd=10.0)))
    services.current().llm.complete(
        LLMRequest(messages=[Message(role="user", content="spend " * 400)], max_tokens=200),
        CallContext(tenant_id="acme", feature="chat"),
    )
    spent = services.current().ledger.budget_state("acme")["total"]["spent_usd"]
    assert spent > 0
    policies.put("acme", LLMPolicy(budget=Limit(monthly_usd=spent / 0.9)))  # 90 % used
    result = handle_history_event(
        _event("vip", "vip-2"),
        services.current().store,
        services.current().embedder,
        services.current().llm,
        None,
    )
    assert result["refreshed"] == [] and result["reason"] == "budget kept for interactive chat"
    assert _insight(scope, "vip")["stale"] is True
