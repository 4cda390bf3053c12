"""The scheduled insights jobs through functions/insights_jobs/main.py on the emulators: stale
insights refreshed through a provider batch (submit, collect, harvest), and chunks re-embedded
after the embedding model changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from shared.capabilities.insights.service import generate, mark_stale
from shared.capabilities.knowledge.index import KnowledgeBase
from shared.core.tenancy.scope import TenantStore
from shared.edge import services

if TYPE_CHECKING:
    from tests.conftest import TokenFactory

SCHEDULER = "service:scheduler"


@pytest.fixture
def jobs(
    function_client: Any, simulator_url: str, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    monkeypatch.setenv("LLM_SIMULATOR_URL", simulator_url)
    services.reset()
    services.current().store.set("tenants/acme", {"tenant_id": "acme"})
    return {
        "insights": function_client("insights_jobs", "insights_jobs"),
        "collector": function_client("llm_batch_jobs", "llm_batch_jobs"),
    }


@pytest.fixture
def caller(service_auth: Any, make_token: TokenFactory) -> Any:
    """Cloud Scheduler's OIDC token, or a CRM user's token for ``role``."""

    def _headers(role: str) -> dict[str, str]:
        if role == SCHEDULER:
            return dict(service_auth("scheduler"))
        return {"Authorization": "Bearer " + make_token("acme", [role])}

    return _headers


def _run(client: Any, caller: Any, body: dict[str, Any], role: str = SCHEDULER) -> Any:
    return client.post("/", json=body, headers=caller(role))


def _customers(scope: TenantStore) -> None:
    for cid in ("c1", "c2"):
        scope.set(scope.path("customers", cid), {"customer_id": cid, "name": cid.upper()})
        scope.set(
            scope.path("interactions", f"{cid}-1"),
            {
                "customer_id": cid,
                "channel": "email",
                "body": "We may cancel: the price went up and support is slow.",
                "occurred_at": "2026-11-10T09:00:00+00:00",
            },
        )
        from shared.capabilities.insights.history import index_interaction

        index_interaction(scope, services.current().embedder, f"{cid}-1")
        generate(
            scope,
            services.current().llm,
            services.current().embedder,
            cid,
            ["churn_risk", "upsell"],
        )


def test_stale_insights_are_refreshed_through_a_provider_batch(jobs: Any, caller: Any) -> None:
    scope = TenantStore(services.current().store, "acme")
    _customers(scope)
    before = {d["insight_id"]: d for _, d in scope.query(scope.path("insights"))}
    assert mark_stale(scope, "c1") == 2
    usage_before = len(scope.query(scope.path("llm_usage")))

    first = _run(jobs["insights"], caller, {"job": "refresh"})
    assert first.status_code == 200, first.get_json()
    acme = first.get_json()["tenants"]["acme"]
    assert acme["submitted"] == 2 and acme["batch_id"]  # c1's two stale insights only
    # Submitting again finds them in flight: nothing twice.
    again = _run(jobs["insights"], caller, {"job": "refresh"}).get_json()["tenants"]["acme"]
    assert again["submitted"] == 0 and again["harvested"]["waiting"] == 2

    collected = _run(jobs["collector"], caller, {"job": "collect"})
    assert collected.status_code == 200

    third = _run(jobs["insights"], caller, {"job": "refresh"}).get_json()["tenants"]["acme"]
    assert third["harvested"] == {"stored": 2, "failed": 0, "waiting": 0, "superseded": 0}
    after = {d["customer_id"] + d["type"]: d for _, d in scope.query(scope.path("insights"))}
    for kind in ("churn_risk", "upsell"):
        refreshed = after["c1" + kind]
        assert not refreshed.get("stale")
        assert refreshed["insight_id"] not in before
        assert refreshed["supporting_data"] and refreshed["grounded"]
        assert after["c2" + kind]["insight_id"] in before  # fresh ones untouched
    batch_usage = [d for _, d in scope.query(scope.path("llm_usage")) if d.get("batch")]
    assert len(batch_usage) == 2 and {d["crm_object"] for d in batch_usage} == {"customer:c1"}
    assert len(scope.query(scope.path("llm_usage"))) == usage_before + 2
    assert scope.query(scope.path("insight_refresh")) == []


def test_an_insight_regenerated_meanwhile_is_not_overwritten(jobs: Any, caller: Any) -> None:
    scope = TenantStore(services.current().store, "acme")
    _customers(scope)
    mark_stale(scope, "c1")
    _run(jobs["insights"], caller, {"job": "refresh"})
    newer = generate(
        scope, services.current().llm, services.current().embedder, "c1", ["churn_risk"], force=True
    )[0]
    _run(jobs["collector"], caller, {"job": "collect"})
    out = _run(jobs["insights"], caller, {"job": "refresh"}).get_json()["tenants"]["acme"]
    assert out["harvested"]["superseded"] == 1 and out["harvested"]["stored"] == 1
    kept = scope.get(scope.path("insights", "c1-churn_risk")) or {}
    assert kept["insight_id"] == newer["insight_id"]


def test_chunks_are_reembedded_after_the_model_changes(
    jobs: Any, caller: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope = TenantStore(services.current().store, "acme")
    _customers(scope)
    kb = KnowledgeBase(scope, services.current().embedder)
    kb.add("Refunds", "Refunds are paid within five days of the request.\n\nAsk billing.")
    old = services.current().embedder.model_id
    chunks = len(scope.query(scope.path("knowledge_chunks"))) + len(
        scope.query(scope.path("history_chunks"))
    )

    # The operator switches to a Google model (the simulator here, Vertex AI in the cloud).
    monkeypatch.setenv("EMBEDDING_MODEL", "text-embedding-005")
    monkeypatch.setenv("EMBEDDING_DIMENSIONS", "64")
    services.reset()
    new = services.current().embedder
    assert new.model_id == "google:text-embedding-005@64" != old
    # Before the job: vector search sees none of the old vectors (keyword search still works).
    hits = KnowledgeBase(scope, new).search("how long do refunds take", mode="vector")
    assert hits == []

    out = _run(jobs["insights"], caller, {"job": "reembed", "tenant_id": "acme"})
    assert out.status_code == 200, out.get_json()
    result = out.get_json()["tenants"]["acme"]
    assert sum(result["reembedded"].values()) == chunks and result["remaining"] is False
    for collection in ("knowledge_chunks", "history_chunks"):
        for _, doc in scope.query(scope.path(collection)):
            assert doc["model_id"] == new.model_id and len(list(doc["embedding"])) == 64
    hits = KnowledgeBase(scope, new).search("how long do refunds take", mode="vector")
    assert hits and hits[0].title == "Refunds"
    # Nothing left: a second run re-embeds nothing.
    again = _run(jobs["insights"], caller, {"job": "reembed"}).get_json()["tenants"]["acme"]
    assert sum(again["reembedded"].values()) == 0


def test_bad_job_requests_name_the_field(jobs: Any, caller: Any) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"job": "nope"}, "job"),
        ({"job": "reembed", "max_seconds": 0}, "max_seconds"),
        ({"job": "reembed", "max_seconds": "soon"}, "max_seconds"),
        ({"job": "reembed", "tenant_id": "a/b"}, "tenant_id"),
    ]
    for body, field in cases:
        response = _run(jobs["insights"], caller, body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["field"] == field
    assert _run(jobs["insights"], caller, {"job": "refresh"}, role="admin").status_code == 401
    assert jobs["insights"].post("/", json={"job": "refresh"}).status_code == 401


def test_refresh_stops_at_the_background_share_of_the_budget(jobs: Any, caller: Any) -> None:
    from shared.ai.llm.policy import Limit, LLMPolicy

    policies = services.current().policies
    policies.put("acme", LLMPolicy(budget=Limit(monthly_usd=10.0)))
    scope = TenantStore(services.current().store, "acme")
    _customers(scope)
    spent = services.current().ledger.budget_state("acme")["total"]["spent_usd"]
    assert spent > 0
    policies.put("acme", LLMPolicy(budget=Limit(monthly_usd=spent / 0.9)))  # 90 % used
    mark_stale(scope, "c1")
    out = _run(jobs["insights"], caller, {"job": "refresh"}).get_json()["tenants"]["acme"]
    assert out["submitted"] == 0 and out["reason"] == "budget kept for interactive chat"
    assert scope.query(scope.path("insight_refresh")) == []
