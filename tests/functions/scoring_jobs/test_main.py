"""Scheduled training and drift checks, called as Cloud Scheduler calls them."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from devstack.demo_leads import write_history
from shared.capabilities.scoring.service import LeadScorer
from shared.core.config import load_settings
from shared.core.store.firestore import FirestoreStore
from shared.core.tenancy.scope import TenantStore
from shared.edge import services
from tests.conftest import PROJECT
from tests.functions.conftest import pull

if TYPE_CHECKING:
    import pytest

    from tests.conftest import TokenFactory


def _store() -> FirestoreStore:
    return FirestoreStore.from_settings(load_settings(os.environ))


def test_scheduled_training_and_drift(
    function_client: Any, make_token: TokenFactory, service_auth: Any
) -> None:
    store = _store()
    write_history(store, "acme", 900)
    write_history(store, "globex", 40, seed=9)  # too little history: skipped with the reason
    jobs = function_client("scoring_jobs", "scoring_jobs")
    scheduler = service_auth("scheduler")
    admin = {"Authorization": "Bearer " + make_token("acme", ["admin"])}
    assert jobs.post("/", json={"job": "train"}, headers=admin).status_code == 401
    assert (
        jobs.post("/", json={"job": "paint"}, headers=scheduler).get_json()["error"]["field"]
        == "job"
    )

    trained = jobs.post("/", json={"job": "train"}, headers=scheduler).get_json()["tenants"]
    assert trained["acme"]["promoted"] and trained["acme"]["kind"] == "tenant"
    assert trained["globex"]["kind"] == "prior"

    scope = TenantStore(store, "acme")
    ids = [f"lead-{i}" for i in range(300)]
    LeadScorer(scope).score_many([(i, None) for i in ids])
    stable = jobs.post(
        "/", json={"job": "drift", "tenant_id": "acme"}, headers=scheduler
    ).get_json()
    report = stable["tenants"]["acme"]
    assert report["status"] == "stable", report["alerts"]
    assert report["realised"]["leads"] > 50 and report["realised"]["auc"] > 0.6

    # The world moves: every lead now comes from cold calls and stays a minute on the site.
    leads = store.get_many([f"tenants/acme/leads/{i}" for i in ids])
    store.set_many(
        [
            (
                f"tenants/acme/leads/{i}",
                {
                    **doc,
                    "source": "cold_call",
                    "custom_fields": {**doc["custom_fields"], "minutes_on_site": 1.0},
                },
            )
            for i, doc in zip(ids, [d or {} for d in leads], strict=True)
        ]
    )
    pull(PROJECT, "ai-events-audit", expect=10_000, timeout=0.5)
    drifted = jobs.post(
        "/", json={"job": "drift", "tenant_id": "acme", "retrain_on_drift": True}, headers=scheduler
    ).get_json()["tenants"]["acme"]
    assert drifted["status"] == "drift"
    assert any(a.startswith("source:") for a in drifted["alerts"])
    assert drifted["feature_psi"]["minutes_on_site"] > 0.2
    assert "retrained" in drifted
    events = [json.loads(m.data) for m in pull(PROJECT, "ai-events-audit", expect=1, timeout=5)]
    assert [e["event_type"] for e in events] == ["scoring.drift_detected"]
    saved = store.get(f"tenants/acme/scoring_drift/{drifted['checked_at'][:10]}")
    assert saved is not None and saved["status"] == "drift"


def test_batch_scoring_through_bigquery(
    function_client: Any,
    service_auth: Any,
    emulators: Any,
    simulator_url: str,
    sim: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime

    from devstack.demo_leads import make_leads
    from shared.capabilities.scoring.batch import bigquery_client

    store = _store()
    write_history(store, "acme", 900)
    jobs = function_client("scoring_jobs", "scoring_jobs")
    scheduler = service_auth("scheduler")
    jobs.post("/", json={"job": "train", "tenant_id": "acme"}, headers=scheduler)
    client = bigquery_client(load_settings(os.environ))
    open_leads = make_leads(1200, seed=21).drop(columns=["status"])
    now = datetime.now(UTC).isoformat()
    rows = [
        {
            "tenant_id": "acme",
            "lead_id": r.pop("lead_id"),
            "snapshot_at": now,
            "fields_json": json.dumps({k: (None if v != v else v) for k, v in r.items()}),
        }
        for r in open_leads.to_dict("records")
    ]
    rows.append(
        {"tenant_id": "acme", "lead_id": "broken", "snapshot_at": now, "fields_json": "not json"}
    )
    rows.append(
        {"tenant_id": "globex", "lead_id": "other-tenant", "snapshot_at": now, "fields_json": "{}"}
    )
    for start in range(0, len(rows), 500):
        assert (
            client.insert_rows_json(f"{PROJECT}.crm_ai.open_leads", rows[start : start + 500]) == []
        )
    monkeypatch.setenv("LLM_SIMULATOR_URL", simulator_url)
    services.reset()
    bad = jobs.post("/", json={"job": "batch_score", "explain_top": -1}, headers=scheduler)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "explain_top"
    result = jobs.post(
        "/", json={"job": "batch_score", "tenant_id": "acme", "explain_top": 5}, headers=scheduler
    ).get_json()
    run = result["tenants"]["acme"]
    assert run["scored"] == 1200 and run["skipped_bad_rows"] == 1
    # The five best leads went to a batch LLM job for plain-language explanations.
    assert run["explanations"]["items"] == 5
    job = services.current().batches.collect(
        TenantStore(store, "acme"), run["explanations"]["batch_id"]
    )
    assert job.state == "completed" and job.counts == {"done": 5}
    assert all(i.template == "lead_score_explanation@v1" for i in job.items)
    assert all(i.result and i.result["batch"] and i.result["schema_valid"] for i in job.items)
    out = next(
        iter(
            client.query(
                f"SELECT COUNT(*) AS n, MIN(score) AS lo, MAX(score) AS hi, COUNT(DISTINCT tenant_id) AS t "
                f"FROM `{PROJECT}.crm_ai.lead_scores` WHERE run_id = '{run['run_id']}'"
            ).result()
        )
    )
    assert out["n"] == 1200 and 0 <= out["lo"] < out["hi"] <= 100 and out["t"] == 1
    client.close()  # type: ignore[no-untyped-call]
