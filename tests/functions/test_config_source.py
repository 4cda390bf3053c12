"""One configuration source (issue 15): every unit that Pub/Sub, Cloud Tasks or Cloud Scheduler
calls is run here with exactly the settings terraform/units.json gives it (the settings Terraform
deploys it with), and must accept its caller's OIDC token and refuse anything else. Without a
setting the unit reads, the call fails here: this is the test that would have caught
insights_jobs deployed without SCHEDULER_SERVICE_ACCOUNT."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.units import CALLERS, functions
from tests.helpers import pubsub_push_body

TARGETS = sorted(
    (name, unit["entry_point"], unit["trigger"])
    for name, unit in functions().items()
    if unit["trigger"] in CALLERS
)
# A request each unit can only refuse as bad input (nothing is run or stored).
BAD_BODY = {
    "pubsub": pubsub_push_body({}, "config-1", event_type="nothing.known"),
    "tasks": {"tenant_id": "acme", "run_id": "wf-x", "slice": -1},
    "scheduler": {"job": "no-such-job"},
}


@pytest.mark.parametrize(("name", "target", "trigger"), TARGETS, ids=[t[0] for t in TARGETS])
def test_a_service_triggered_unit_runs_with_its_declared_settings(
    function_client: Any, service_auth: Any, name: str, target: str, trigger: str
) -> None:
    client = function_client(name, target)
    identity, setting = CALLERS[trigger]
    body = BAD_BODY[trigger]
    # Its caller's token is verified and the request reaches the unit's own validation.
    accepted = client.post("/", json=body, headers=service_auth(identity))
    expected = 200 if trigger == "pubsub" else 400  # a poison push is acked and dead-lettered
    assert accepted.status_code == expected, accepted.get_data(as_text=True)
    # No token, another identity's token, or a token minted for another unit: refused.
    others = [i for i, _ in CALLERS.values() if i != identity]
    headers: dict[str, str]
    for headers in (
        {},
        service_auth(others[0]),
        service_auth(identity, audience="https://another-unit.example"),
    ):
        assert client.post("/", json=body, headers=headers).status_code == 401
    # Without the setting naming its caller, the unit cannot verify anyone: it says which.
    missing = client.without(setting).post("/", json=body, headers=service_auth(identity))
    assert missing.status_code == 500 and setting in missing.get_json()["error"]["message"]
    missing = client.without("SERVICE_AUDIENCE").post(
        "/", json=body, headers=service_auth(identity)
    )
    assert (
        missing.status_code == 500 and "SERVICE_AUDIENCE" in missing.get_json()["error"]["message"]
    )
