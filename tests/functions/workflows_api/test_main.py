from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from shared.capabilities.workflows.runs import RunStore
from shared.core.tenancy.scope import TenantStore
from shared.edge import services

if TYPE_CHECKING:
    from tests.conftest import TokenFactory

BASE = "/api/v1/ai/workflows"


@pytest.fixture
def api(function_client: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("WORKFLOW_RUNNER_URL", "http://127.0.0.1:9/unused-runner")
    services.reset()
    services.current().store.set("tenants/acme/leads/lead-1", {"lead_id": "lead-1", "name": "Ada"})
    return function_client("workflows_api", "workflows_api")


def _auth(make_token: TokenFactory, role: str, tenant: str = "acme") -> dict[str, str]:
    return {"Authorization": "Bearer " + make_token(tenant, [role])}


def test_bad_requests_name_the_field(api: Any, make_token: TokenFactory) -> None:
    rep = _auth(make_token, "rep")
    cases = [
        ({"type": "world_peace"}, 400, "type"),
        ({"type": "lead_qualification"}, 400, "lead_id"),
        ({"type": "lead_qualification", "lead_id": "nope"}, 404, "lead_id"),
        ({"type": "outreach_draft", "lead_id": "lead-1", "priority": "urgent"}, 400, "priority"),
        ({"type": "interaction_triage", "input": {"message": ""}}, 400, "input.message"),
        ({"type": "interaction_triage", "input": "hi"}, 400, "input"),
    ]
    for body, status, field in cases:
        res = api.post(BASE, json=body, headers=rep)
        assert res.status_code == status, (body, res.get_json())
        assert res.get_json()["error"]["field"] == field
    assert api.post(BASE, json=cases[1][0]).status_code == 401
    assert api.post(BASE, json=cases[1][0], headers=_auth(make_token, "viewer")).status_code == 403
    assert api.get(f"{BASE}?limit=0", headers=rep).get_json()["error"]["field"] == "limit"


def test_a_run_is_created_queued_and_enqueued_once_per_key(
    api: Any, make_token: TokenFactory
) -> None:
    rep = {**_auth(make_token, "rep"), "Idempotency-Key": "k-1"}
    first = api.post(BASE, json={"type": "lead_qualification", "lead_id": "lead-1"}, headers=rep)
    assert first.status_code == 202
    run = first.get_json()
    assert run["status"] == "queued" and run["context"]["lead"]["name"] == "Ada"
    again = api.post(BASE, json={"type": "lead_qualification", "lead_id": "lead-1"}, headers=rep)
    assert again.get_json()["run_id"] == run["run_id"]
    # Another tenant cannot see it.
    other = api.get(f"{BASE}/{run['run_id']}", headers=_auth(make_token, "rep", "globex"))
    assert other.status_code == 404
    # Cancelling a queued run ends it at once; a second cancel changes nothing.
    assert api.delete(f"{BASE}/{run['run_id']}", headers=rep).get_json()["status"] == "cancelled"
    assert api.delete(f"{BASE}/{run['run_id']}", headers=rep).get_json()["status"] == "cancelled"
    stored = RunStore(TenantStore(services.current().store, "acme")).get(run["run_id"])
    assert stored.cancel_requested and stored.version == 1
    late = api.put(
        f"{BASE}/{run['run_id']}/continue",
        json={"task_id": "t", "decision": "approve"},
        headers=rep,
    )
    assert late.status_code == 409


def test_only_the_runs_owner_or_a_manager_may_decide_or_cancel(
    api: Any, make_token: TokenFactory
) -> None:
    """Issue 15 (design): any rep could approve, edit or cancel any other user's run."""

    def as_(role: str, subject: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + make_token("acme", [role], subject=subject)}

    body = {"type": "lead_qualification", "lead_id": "lead-1"}
    mine = api.post(BASE, json=body, headers=as_("rep", "ada")).get_json()["run_id"]
    decision = {"task_id": "t", "decision": "approve"}
    for refused in (
        api.delete(f"{BASE}/{mine}", headers=as_("rep", "bob")),
        api.put(f"{BASE}/{mine}/continue", json=decision, headers=as_("rep", "bob")),
    ):
        assert refused.status_code == 403 and refused.get_json()["error"]["field"] == "run_id"
    assert api.get(f"{BASE}/{mine}", headers=as_("rep", "bob")).get_json()["status"] == "queued"
    # A manager may act on anyone's run; the owner on their own.
    cancelled = api.delete(f"{BASE}/{mine}", headers=as_("manager", "meg"))
    assert cancelled.status_code == 202 and cancelled.get_json()["status"] == "cancelled"
    own = api.post(BASE, json=body, headers={**as_("rep", "ada"), "Idempotency-Key": "k-2"})
    assert (
        api.delete(f"{BASE}/{own.get_json()['run_id']}", headers=as_("rep", "ada")).status_code
        == 202
    )
