from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.conftest import TokenFactory


def test_only_cloud_tasks_may_run_slices_and_bad_tasks_name_the_field(
    function_client: Any, service_auth: Any, make_token: TokenFactory
) -> None:
    runner = function_client("workflow_runner", "workflow_runner")
    body = {"tenant_id": "acme", "run_id": "wf-x", "slice": 0}
    assert runner.post("/", json=body).status_code == 401
    # The emulator's header alone ran any tenant's slice before (issue 15): no longer.
    assert runner.post("/", json=body, headers={"X-CloudTasks-TaskName": "t-1"}).status_code == 401
    for refused in (
        {"Authorization": "Bearer " + make_token("acme", ["admin"])},  # a CRM user
        service_auth("scheduler"),  # another of our identities
        service_auth("tasks", audience="http://elsewhere"),  # minted for another unit
    ):
        assert runner.post("/", json=body, headers=refused).status_code == 401
    task = service_auth("tasks")  # what Cloud Tasks attaches (locally, the emulator's dispatch)
    bad = runner.post("/", json={**body, "slice": -1}, headers=task)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "slice"
    missing = runner.post("/", json=body, headers=task)
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "run_id"
