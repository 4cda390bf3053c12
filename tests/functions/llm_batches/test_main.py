from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from shared.core.tenancy.scope import TenantStore
from shared.edge import services

if TYPE_CHECKING:
    from tests.conftest import TokenFactory

BASE = "/api/v1/ai/llm/batches"


@pytest.fixture
def api(function_client: Any, simulator_url: str, sim: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LLM_SIMULATOR_URL", simulator_url)
    services.reset()
    store = services.current().store
    store.set("tenants/acme", {"tenant_id": "acme"})
    for i in range(3):
        store.set(
            f"tenants/acme/leads/lead-{i}",
            {
                "lead_id": f"lead-{i}",
                "name": f"Lead {i}",
                "company": "Initech",
                "_meta": {"version": 1},
            },
        )
    return {
        "http": function_client("llm_batches", "llm_batches"),
        "jobs": function_client("llm_batch_jobs", "llm_batch_jobs"),
    }


def _auth(make_token: TokenFactory, role: str, tenant: str | None = "acme") -> dict[str, str]:
    return {"Authorization": "Bearer " + make_token(tenant, [role])}


def test_bulk_drafts_from_leads_go_through_the_batch_and_the_scheduled_collector(
    api: Any, make_token: TokenFactory, service_auth: Any
) -> None:
    headers = {**_auth(make_token, "manager"), "Idempotency-Key": "drafts-2026-11-24"}
    body = {
        "template_id": "outreach_draft",
        "lead_ids": ["lead-0", "lead-1", "lead-2"],
        "variables": {"goal": "invite to the December webinar"},
    }
    started = api["http"].post(BASE, json=body, headers=headers)
    assert started.status_code == 202
    job = started.get_json()
    assert job["state"] == "open" and job["counts"] == {"submitted": 3}
    again = api["http"].post(BASE, json=body, headers=headers).get_json()
    assert again["batch_id"] == job["batch_id"]

    # Cloud Scheduler's call: only the scheduler identity's OIDC token runs it, never a user's.
    denied = api["jobs"].post("/", json={"job": "collect"}, headers=_auth(make_token, "admin"))
    assert denied.status_code == 401
    ran = api["jobs"].post("/", json={"job": "collect"}, headers=service_auth("scheduler"))
    assert ran.status_code == 200
    assert ran.get_json()["batches"][f"acme/{job['batch_id']}"]["state"] == "completed"

    done = (
        api["http"]
        .get(f"{BASE}/{job['batch_id']}", headers=_auth(make_token, "manager"))
        .get_json()
    )
    assert done["counts"] == {"done": 3}
    assert {i["id"] for i in done["items"]} == {"lead-0", "lead-1", "lead-2"}
    assert all(i["template"].startswith("outreach_draft@v") for i in done["items"])
    assert all(i["result"]["batch"] and i["result"]["schema_valid"] for i in done["items"])
    usage = TenantStore(services.current().store, "acme").query("tenants/acme/llm_usage")
    assert len(usage) == 3 and all(d["batch"] and d["feature"] == "workflow" for _, d in usage)
    assert {d["crm_object"] for _, d in usage} == {"lead:lead-0", "lead:lead-1", "lead:lead-2"}
    listed = api["http"].get(BASE, headers=_auth(make_token, "manager")).get_json()
    assert [b["batch_id"] for b in listed["batches"]] == [job["batch_id"]]


def test_bad_jobs_name_the_field(api: Any, make_token: TokenFactory) -> None:
    h = _auth(make_token, "manager")
    cases = [
        ({"lead_ids": ["lead-0"]}, 400, "template_id"),
        ({"template_id": "outreach_draft"}, 422, "items"),  # neither items nor lead_ids: a rule
        ({"template_id": "outreach_draft", "lead_ids": ["lead-9"]}, 404, "lead_ids[0]"),
        (
            {"template_id": "outreach_draft", "items": [{"id": "x", "variables": {}}]},
            422,  # the template's own variables: a rule the schema cannot state
            "items[0].variables.lead",
        ),
        (
            {"template_id": "outreach_draft", "lead_ids": ["lead-0"], "deadline_hours": 48},
            400,
            "deadline_hours",
        ),
        ({"template_id": "nope", "lead_ids": ["lead-0"]}, 400, "template_id"),  # an enum
        (
            {"template_id": "outreach_draft", "items": [{"id": "x", "crm_object": "lead"}]},
            400,
            "items[0].crm_object",
        ),
    ]
    for body, status, field in cases:
        res = api["http"].post(BASE, json=body, headers=h)
        assert res.status_code == status, body
        assert res.get_json()["error"].get("field") == field, body
    assert (
        api["http"].post(BASE, json=cases[0][0], headers=_auth(make_token, "rep")).status_code
        == 403
    )
    other = api["http"].get(f"{BASE}/bdoesnotexist", headers=_auth(make_token, "manager", "globex"))
    assert other.status_code == 404
