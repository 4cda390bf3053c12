from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.conftest import TokenFactory


def test_only_cloud_tasks_may_run_slices_and_bad_tasks_name_the_field(
    function_client: Any, make_token: TokenFactory
) -> None:
    runner = function_client("workflow_runner", "workflow_runner")
    body = {"tenant_id": "acme", "run_id": "wf-x", "slice": 0}
    assert runner.post("/", json=body).status_code == 401
    user = {"Authorization": "Bearer " + make_token("acme", ["admin"])}
    assert runner.post("/", json=body, headers=user).status_code == 403
    task = {"X-CloudTasks-TaskName": "t-1"}  # what the local emulator sends
    bad = runner.post("/", json={**body, "slice": -1}, headers=task)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "slice"
    missing = runner.post("/", json=body, headers=task)
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "run_id"
