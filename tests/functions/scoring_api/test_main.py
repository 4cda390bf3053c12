"""The scoring API and the rescoring event function, on the Firestore emulator."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pytest

from devstack.demo_leads import write_history
from shared.core.config import load_settings
from shared.core.store.firestore import FirestoreStore
from tests.conftest import PROJECT
from tests.functions.conftest import pull
from tests.helpers import pubsub_push_body

if TYPE_CHECKING:
    from tests.conftest import TokenFactory


def _seed(n: int = 900, tenant: str = "acme", seed: int = 5) -> Any:
    store = FirestoreStore.from_settings(load_settings(os.environ))
    return write_history(store, tenant, n, seed=seed)


@pytest.fixture
def api(function_client: Any) -> Any:
    return function_client("scoring_api", "scoring_api")


def _auth(make_token: TokenFactory, role: str, tenant: str = "acme") -> dict[str, str]:
    return {"Authorization": "Bearer " + make_token(tenant, [role])}


def test_train_score_explain_and_cache(api: Any, make_token: TokenFactory) -> None:
    _seed()
    manager, rep, viewer = (_auth(make_token, r) for r in ("manager", "rep", "viewer"))
    assert api.post("/api/v1/ai/scoring/models/train", headers=viewer).status_code == 403
    trained = api.post("/api/v1/ai/scoring/models/train", headers=manager)
    assert trained.status_code == 200, trained.get_json()
    decision = trained.get_json()
    assert decision["promoted"] and decision["kind"] == "tenant"
    models = api.get("/api/v1/ai/scoring/models", headers=viewer).get_json()
    assert models["assignment"]["champion"] == decision["version"]
    assert models["models"][0]["metrics"]["auc"] > 0.6

    scored = api.post("/api/v1/ai/scoring/leads", json={"lead_id": "lead-5"}, headers=rep)
    assert scored.status_code == 200
    result = scored.get_json()
    assert 0 <= result["score"] <= 100 and result["model_version"] == decision["version"]
    assert result["reasoning"] and all(r["field"] for r in result["reasoning"])
    latest = api.get("/api/v1/ai/scoring/leads/lead-5", headers=viewer).get_json()
    assert latest["score"] == result["score"] and latest["expires_at"] > latest["scored_at"]
    again = api.post("/api/v1/ai/scoring/leads", json={"lead_id": "lead-5"}, headers=rep).get_json()
    assert again["scored_at"] == result["scored_at"]  # served from the cache

    hot = {"source": "referral", "visited_pricing": "yes", "minutes_on_site": 40, "employees": 500}
    cold = {"source": "cold_call", "visited_pricing": "no", "minutes_on_site": 1, "employees": 5}
    a = api.post(
        "/api/v1/ai/scoring/leads", json={"lead_id": "new-1", "fields": hot}, headers=rep
    ).get_json()
    b = api.post(
        "/api/v1/ai/scoring/leads", json={"lead_id": "new-2", "fields": cold}, headers=rep
    ).get_json()
    assert a["score"] > b["score"]
    # A what-if from request fields under a real lead's id is not that lead's score: the stored
    # score and the announcements are untouched (issue 15, L1).
    pull(PROJECT, "ai-events-audit", expect=10_000, timeout=0.5)
    what_if = api.post(
        "/api/v1/ai/scoring/leads", json={"lead_id": "lead-5", "fields": cold}, headers=rep
    )
    assert what_if.status_code == 200
    stored = api.get("/api/v1/ai/scoring/leads/lead-5", headers=viewer).get_json()
    assert stored["score"] == latest["score"] and stored["scored_at"] == latest["scored_at"]
    announced = pull(PROJECT, "ai-events-audit", expect=1, timeout=3)
    assert not [m for m in announced if b"lead.score_changed" in m.data]


def test_batch_with_per_item_errors_and_bad_input(api: Any, make_token: TokenFactory) -> None:
    _seed(120)
    rep = _auth(make_token, "rep")
    body = {"leads": [{"lead_id": "lead-1"}, {"lead_id": "missing"}]}
    result = api.post("/api/v1/ai/scoring/leads/batch", json=body, headers=rep).get_json()
    assert [r["lead_id"] for r in result["results"]] == ["lead-1"]
    assert [(e["index"], e["error"]["code"]) for e in result["errors"]] == [(1, "not_found")]
    # A malformed item is the request's fault: 400 naming the item's field, nothing scored.
    for bad, field in (
        ({"lead_id": "../x"}, "leads[2].lead_id"),
        ("nope", "leads[2]"),
        ({"lead_id": "l", "fields": {"employees": [1]}}, "leads[2].fields.employees"),
    ):
        refused = api.post(
            "/api/v1/ai/scoring/leads/batch",
            json={"leads": [*body["leads"], bad]},
            headers=rep,
        )
        assert refused.status_code == 400, refused.get_json()
        assert refused.get_json()["error"]["field"] == field
    # No model yet: the global prior, flagged.
    assert (
        result["results"][0]["model_kind"] == "prior"
        and result["results"][0]["insufficient_history"]
    )
    too_many = api.post(
        "/api/v1/ai/scoring/leads/batch", json={"leads": [{"lead_id": "a"}] * 1001}, headers=rep
    )
    assert too_many.status_code == 400 and too_many.get_json()["error"]["field"] == "leads"
    missing_id = api.post("/api/v1/ai/scoring/leads", json={"fields": {}}, headers=rep)
    assert missing_id.status_code == 400 and missing_id.get_json()["error"]["field"] == "lead_id"


def test_ab_test_splits_traffic_and_reports(api: Any, make_token: TokenFactory) -> None:
    _seed()
    manager, rep = _auth(make_token, "manager"), _auth(make_token, "rep")
    first = api.post("/api/v1/ai/scoring/models/train", headers=manager).get_json()
    _seed(seed=6)  # new history: a second model
    second = api.post("/api/v1/ai/scoring/models/train", headers=manager).get_json()
    assert "candidate_auc" in second and "champion_auc" in second
    champion = first["version"] if not second["promoted"] else second["version"]
    challenger = second["version"] if champion == first["version"] else first["version"]
    started = api.post(
        "/api/v1/ai/scoring/models/test",
        json={"challenger": challenger, "share": 0.5},
        headers=manager,
    ).get_json()
    assert started["assignment"]["challenger"] == challenger
    holdout = started["holdout"]
    assert holdout["rows"] > 50 and len(holdout["auc_difference_95ci"]) == 2
    versions = {
        api.post("/api/v1/ai/scoring/leads", json={"lead_id": f"lead-{i}"}, headers=rep).get_json()[
            "model_version"
        ]
        for i in range(40)
    }
    assert versions == {champion, challenger}
    report = api.post("/api/v1/ai/scoring/models/test", headers=manager).get_json()
    live = report["live"]
    assert live["champion"]["scored"] + live["challenger"]["scored"] == 40
    bad = api.post(
        "/api/v1/ai/scoring/models/test",
        json={"challenger": challenger, "share": 2},
        headers=manager,
    )
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "share"


def test_a_scoring_request_event_rescores_and_announces(
    function_client: Any, service_auth: Any
) -> None:
    _seed(60)
    events = function_client("scoring_events", "handle_ai_event")
    event = {
        "event_id": "e1.lead.scoring_requested",
        "event_type": "lead.scoring_requested",
        "tenant_id": "acme",
        "entity_type": "lead",
        "entity_id": "lead-3",
        "data": {},
    }
    assert (
        events.post(
            "/", json=pubsub_push_body(event, "m1"), headers=service_auth("pubsub_push")
        ).status_code
        == 200
    )
    store = FirestoreStore.from_settings(load_settings(os.environ))
    assert store.get("tenants/acme/lead_scores/lead-3") is not None
    changed = [json.loads(m.data) for m in pull(PROJECT, "ai-events-audit", expect=1, timeout=5)]
    assert [c["event_type"] for c in changed] == ["lead.score_changed"]
    other = {**event, "event_type": "customer.history_changed"}
    assert (
        events.post(
            "/", json=pubsub_push_body(other, "m2"), headers=service_auth("pubsub_push")
        ).status_code
        == 200
    )
    missing = {**event, "entity_id": "gone"}
    assert (
        events.post(
            "/", json=pubsub_push_body(missing, "m3"), headers=service_auth("pubsub_push")
        ).status_code
        == 200
    )


def test_the_latest_drift_check_is_readable_by_the_tenant_only(
    function_client: Any, make_token: TokenFactory
) -> None:
    api = function_client("scoring_api", "scoring_api")
    path = "/api/v1/ai/scoring/drift"
    none = api.get(path, headers=_auth(make_token, "viewer")).get_json()
    assert none["status"] == "none" and none["model_version"] is None and none["alerts"] == []
    store = FirestoreStore.from_settings(load_settings(os.environ))
    for day, psi in (("2026-11-30", 0.05), ("2026-12-01", 0.31)):
        store.set(
            f"tenants/acme/scoring_drift/{day}",
            {
                "model_version": "v1",
                "checked_at": f"{day}T10:15:00+00:00",
                "scored_leads": 80,
                "feature_psi": {"employees": psi},
                "score_psi": psi,
                "alerts": [f"employees: PSI {psi:.2f}"] if psi > 0.2 else [],
                "status": "drift" if psi > 0.2 else "stable",
            },
        )
    latest = api.get(path, headers=_auth(make_token, "viewer")).get_json()
    assert latest["status"] == "drift" and latest["feature_psi"] == {"employees": 0.31}
    other = api.get(path, headers=_auth(make_token, "viewer", tenant="globex")).get_json()
    assert other["status"] == "none" and other["scored_leads"] == 0
