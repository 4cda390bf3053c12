from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from shared.ai.llm import CallContext, LLMRequest, Message
from shared.edge import services

if TYPE_CHECKING:
    from tests.conftest import TokenFactory


@pytest.fixture
def api(function_client: Any, simulator_url: str, sim: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LLM_SIMULATOR_URL", simulator_url)
    services.reset()
    return function_client("usage_api", "usage_api")


def _spend(tenant: str, feature: str, crm_object: str | None = None) -> float:
    request = LLMRequest(
        messages=[Message(role="user", content=f"Summarise {crm_object} for {feature}")]
    )
    response = services.current().llm.complete(
        request, CallContext(tenant_id=tenant, feature=feature, crm_object=crm_object)
    )
    return response.cost_usd


def test_usage_by_day_feature_model_and_object(api: Any, make_token: TokenFactory) -> None:
    cost = _spend("acme", "workflow", "lead:lead-1") + _spend("acme", "chat", "customer:c-1")
    _spend("globex", "chat")
    auth = {"Authorization": "Bearer " + make_token("acme", ["manager"])}
    body = api.get("/api/v1/ai/usage", headers=auth).get_json()
    assert body["total"]["calls"] == 2
    assert body["total"]["cost_usd"] == pytest.approx(cost)
    assert set(body["by_feature"]) == {"workflow", "chat"}
    assert set(body["by_object_type"]) == {"lead", "customer"}
    assert body["by_day"][0]["day"] == datetime.now(UTC).date().isoformat()
    obj = api.get("/api/v1/ai/usage/objects/lead:lead-1", headers=auth).get_json()
    assert obj["usage"]["calls"] == 1


def test_roles_and_bad_input(api: Any, make_token: TokenFactory) -> None:
    viewer = {"Authorization": "Bearer " + make_token("acme", ["viewer"])}
    manager = {"Authorization": "Bearer " + make_token("acme", ["manager"])}
    admin = {"Authorization": "Bearer " + make_token("acme", ["admin"])}
    assert api.get("/api/v1/ai/usage", headers=viewer).status_code == 403
    bad = api.get("/api/v1/ai/usage?from=2026-13-01", headers=manager)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "from"
    too_long = api.get("/api/v1/ai/usage?from=2026-01-01&to=2026-12-31", headers=manager)
    assert too_long.status_code == 422 and too_long.get_json()["error"]["field"] == "to"
    policy = {"budget": {"monthly_usd": 25}, "degrade_to_tier": "fast", "pii": "redact"}
    assert api.put("/api/v1/ai/usage/policy", json=policy, headers=manager).status_code == 403
    assert api.put("/api/v1/ai/usage/policy", json=policy, headers=admin).status_code == 200
    assert (
        api.get("/api/v1/ai/usage/policy", headers=manager).get_json()["budget"]["monthly_usd"]
        == 25
    )
    wrong = api.put("/api/v1/ai/usage/policy", json={"budget": {"monthly_usd": -1}}, headers=admin)
    assert wrong.status_code == 400 and wrong.get_json()["error"]["field"] == "budget.monthly_usd"
    tier = api.put("/api/v1/ai/usage/policy", json={"degrade_to_tier": "turbo"}, headers=admin)
    assert tier.status_code == 422 and tier.get_json()["error"]["field"] == "degrade_to_tier"
