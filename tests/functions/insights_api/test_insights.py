"""Customer insights through insights_api on the emulators with the provider simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from shared.capabilities.insights.history import index_interaction
from shared.capabilities.insights.service import mark_stale
from shared.core.tenancy.scope import TenantStore
from shared.edge import services

if TYPE_CHECKING:
    from tests.conftest import TokenFactory


@pytest.fixture
def api(function_client: Any, simulator_url: str, sim: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LLM_SIMULATOR_URL", simulator_url)
    services.reset()
    scope = TenantStore(services.current().store, "acme")
    scope.set(
        scope.path("customers", "cust-1"),
        {"customer_id": "cust-1", "name": "Initech", "plan": "premium"},
    )
    for iid, body, day in (
        (
            "i-1",
            "We were charged twice on the March invoice and are considering other vendors.",
            "2026-11-10",
        ),
        ("i-2", "Thanks for fixing the login issue so quickly.", "2026-11-18"),
    ):
        scope.set(
            scope.path("interactions", iid),
            {
                "customer_id": "cust-1",
                "channel": "email",
                "direction": "inbound",
                "body": body,
                "occurred_at": f"{day}T09:00:00+00:00",
            },
        )
        index_interaction(scope, services.current().embedder, iid)
    return function_client("insights_api", "insights_api")


def test_insights_are_generated_with_citations_cached_and_listed(
    api: Any, make_token: TokenFactory
) -> None:
    rep = {"Authorization": "Bearer " + make_token("acme", ["rep"])}
    body = {"customer_id": "cust-1", "types": ["churn_risk", "next_best_action"]}
    first = api.post("/api/v1/ai/insights/generate", json=body, headers=rep)
    assert first.status_code == 200, first.get_json()
    insights = first.get_json()["insights"]
    assert [i["type"] for i in insights] == ["churn_risk", "next_best_action"]
    churn = insights[0]
    assert churn["cached"] is False and churn["template"] == "customer_insight@v1"
    assert 1 <= churn["impact_score"] <= 10 and 0 <= churn["confidence"] <= 1
    assert churn["recommendations"][0]["priority"] in ("high", "medium", "low")
    cited = {c["id"] for claim in churn["supporting_data"] for c in claim["citations"]}
    assert cited and cited <= {
        "i-1",
        "i-2",
    }  # every citation is a retrieved record of this customer
    assert churn["grounded"] is True
    again = api.post("/api/v1/ai/insights/generate", json=body, headers=rep).get_json()["insights"]
    assert again[0]["cached"] is True and again[0]["insight_id"] == churn["insight_id"]
    forced = api.post("/api/v1/ai/insights/generate", json={**body, "force": True}, headers=rep)
    assert forced.get_json()["insights"][0]["cached"] is False
    # New history makes them stale: the next request generates afresh.
    assert mark_stale(TenantStore(services.current().store, "acme"), "cust-1") == 2
    assert (
        api.post("/api/v1/ai/insights/generate", json=body, headers=rep).get_json()["insights"][0][
            "cached"
        ]
        is False
    )

    mine = api.get("/api/v1/ai/insights/customer/cust-1", headers=rep).get_json()["insights"]
    assert {i["type"] for i in mine} == {"churn_risk", "next_best_action"}
    listed = api.get("/api/v1/ai/insights?type=churn_risk&limit=1", headers=rep).get_json()
    assert [i["type"] for i in listed["insights"]] == ["churn_risk"]
    other = {"Authorization": "Bearer " + make_token("globex", ["rep"])}
    assert api.get("/api/v1/ai/insights", headers=other).get_json()["insights"] == []


def test_bad_insight_requests_name_the_field(api: Any, make_token: TokenFactory) -> None:
    rep = {"Authorization": "Bearer " + make_token("acme", ["rep"])}
    viewer = {"Authorization": "Bearer " + make_token("acme", ["viewer"])}
    url = "/api/v1/ai/insights/generate"
    cases = [
        ({"types": ["churn_risk"]}, 400, "customer_id"),
        ({"customer_id": "cust-1", "types": ["horoscope"]}, 400, "types[0]"),
        ({"customer_id": "nobody", "types": ["churn_risk"]}, 404, "customer_id"),
    ]
    for body, status, field in cases:
        res = api.post(url, json=body, headers=rep)
        assert res.status_code == status and res.get_json()["error"]["field"] == field
    assert api.post(url, json={"customer_id": "cust-1"}, headers=viewer).status_code == 403
    assert (
        api.get("/api/v1/ai/insights?min_impact=11", headers=rep).get_json()["error"]["field"]
        == "min_impact"
    )
