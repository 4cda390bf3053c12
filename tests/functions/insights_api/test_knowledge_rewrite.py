"""Knowledge search with the LLM query rewrite on (``KNOWLEDGE_QUERY_REWRITE=on``, against the
simulator): the response carries the rewrite and its cost, the call is booked like any other,
and retrieval still answers when no provider can rewrite."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from shared.core.tenancy.scope import TenantStore
from shared.edge import services

if TYPE_CHECKING:
    from tests.conftest import TokenFactory

BASE = "/api/v1/ai/knowledge"
DOC = {
    "title": "Refund policy",
    "format": "markdown",
    "doc_id": "refunds",
    "content": "# Refunds\n\nDamaged items are refunded in full within 30 days.",
}


@pytest.fixture
def api(function_client: Any, simulator_url: str, sim: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LLM_SIMULATOR_URL", simulator_url)
    monkeypatch.setenv("KNOWLEDGE_QUERY_REWRITE", "on")
    services.reset()
    return function_client("insights_api", "insights_api")


def test_search_reports_the_rewrite_it_used_and_books_its_cost(
    api: Any, make_token: TokenFactory
) -> None:
    admin = {"Authorization": "Bearer " + make_token("acme", ["admin"])}
    assert api.post(BASE, json=DOC, headers=admin).status_code == 201
    res = api.post(f"{BASE}/search", json={"query": "my blender came broken"}, headers=admin)
    assert res.status_code == 200
    body = res.get_json()
    assert body["results"][0]["id"] == "refunds"
    rewrite = body["rewrite"]
    assert rewrite["query"] and rewrite["query"] != "my blender came broken"
    assert rewrite["skipped"] is None
    assert rewrite["input_tokens"] > 0 and rewrite["output_tokens"] > 0
    assert rewrite["cost_usd"] > 0 and rewrite["model"]
    services.current().flush_writes()
    scope = TenantStore(services.current().store, "acme")
    usage = scope.query(scope.path("llm_usage"), where=[("template_id", "==", "knowledge_query")])
    assert len(usage) == 1 and usage[0][1]["feature"] == "insights"


def test_search_answers_without_the_rewrite_when_no_provider_can_make_it(
    api: Any, sim: Any, make_token: TokenFactory
) -> None:
    admin = {"Authorization": "Bearer " + make_token("acme", ["admin"])}
    assert api.post(BASE, json=DOC, headers=admin).status_code == 201
    for provider in ("openai", "anthropic", "gemini"):
        sim.post("/_sim/faults", json={"provider": provider, "fault": {"status": 401}, "times": 50})
    res = api.post(f"{BASE}/search", json={"query": "refund for a damaged item"}, headers=admin)
    assert res.status_code == 200
    body = res.get_json()
    assert body["results"][0]["id"] == "refunds"
    assert body["rewrite"]["query"] is None
    assert body["rewrite"]["skipped"].startswith("AllProvidersFailed")


def test_chat_retrieves_with_the_rewrite_and_reports_it_in_its_usage_event(
    api: Any, make_token: TokenFactory
) -> None:
    admin = {"Authorization": "Bearer " + make_token("acme", ["admin"], subject="ada")}
    assert api.post(BASE, json=DOC, headers=admin).status_code == 201
    res = api.post(
        "/api/v1/ai/insights/chat", json={"message": "my blender came broken"}, headers=admin
    )
    assert res.status_code == 200
    events = [
        json.loads(line[len("data: ") :])
        for block in res.get_data(as_text=True).strip().split("\n\n")
        if block.startswith("event: usage")
        for line in block.splitlines()
        if line.startswith("data: ")
    ]
    assert len(events) == 1
    rewrite = events[0]["rewrite"]
    assert rewrite["query"] and rewrite["cost_usd"] > 0
    scope = TenantStore(services.current().store, "acme")
    usage = scope.query(scope.path("llm_usage"), where=[("template_id", "==", "knowledge_query")])
    assert [rec["feature"] for _, rec in usage] == ["chat"]
