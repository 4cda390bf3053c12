from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.core.tenancy import SECURITY_EVENTS
from shared.core.tenancy.security import CROSS_TENANT
from tests.helpers import crm_event, pubsub_push_body

if TYPE_CHECKING:
    from tests.conftest import TokenFactory


def _seed(function_client: Any, service_auth: Any) -> None:
    events = function_client("crm_events", "handle_crm_event")
    push = service_auth("pubsub_push")
    for i, event in enumerate(
        [
            crm_event(tenant_id="acme", entity_id="lead-1"),
            crm_event(tenant_id="globex", entity_id="lead-g", event_id="evt-g"),
            crm_event(
                "interaction.logged",
                tenant_id="acme",
                entity_id="i1",
                event_id="evt-i1",
                occurred_at="2026-11-01T10:00:00Z",
                payload={"channel": "email", "customer_id": "c1"},
            ),
            crm_event(
                "interaction.logged",
                tenant_id="acme",
                entity_id="i2",
                event_id="evt-i2",
                occurred_at="2026-11-02T10:00:00Z",
                payload={"channel": "call", "customer_id": "c1"},
            ),
        ]
    ):
        assert (
            events.post("/", json=pubsub_push_body(event, f"m{i}"), headers=push).status_code == 200
        )


def test_read_a_record_with_a_token(
    function_client: Any, service_auth: Any, make_token: TokenFactory
) -> None:
    _seed(function_client, service_auth)
    api = function_client("crm_api", "crm_api")
    auth = {"Authorization": "Bearer " + make_token("acme", ["viewer"])}
    response = api.get("/api/v1/ai/crm/leads/lead-1", headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == "a@example.com" and body["version"] == 1 and "_meta" not in body
    assert body["created_at"].startswith("2026-11-01T10:00:00")
    listing = api.get("/api/v1/ai/crm/customers/c1/interactions?limit=5", headers=auth).get_json()
    assert [i["id"] for i in listing["items"]] == ["i2", "i1"]


def test_no_token_is_401(function_client: Any) -> None:
    api = function_client("crm_api", "crm_api")
    response = api.get("/api/v1/ai/crm/leads/lead-1")
    assert response.status_code == 401
    assert "Authorization" in response.get_json()["error"]["message"]


def test_tenant_a_cannot_read_tenant_b(
    function_client: Any, service_auth: Any, make_token: TokenFactory
) -> None:
    _seed(function_client, service_auth)
    api = function_client("crm_api", "crm_api")
    auth = {"Authorization": "Bearer " + make_token("acme", ["admin"])}
    # Globex's lead id, asked for by an Acme token: it simply does not exist for Acme.
    assert api.get("/api/v1/ai/crm/leads/lead-g", headers=auth).status_code == 404
    # Naming Globex explicitly is refused, logged and counted.
    before = SECURITY_EVENTS[CROSS_TENANT]
    response = api.get("/api/v1/ai/crm/leads/lead-g", headers={**auth, "X-Tenant-ID": "globex"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "tenant_mismatch"
    assert SECURITY_EVENTS[CROSS_TENANT] == before + 1


def test_bad_input_is_a_4xx_naming_the_field(
    function_client: Any, make_token: TokenFactory
) -> None:
    api = function_client("crm_api", "crm_api")
    auth = {"Authorization": "Bearer " + make_token("acme", ["viewer"])}
    response = api.get("/api/v1/ai/crm/secrets/x", headers=auth)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "collection"
    response = api.get("/api/v1/ai/crm/customers/c1/interactions?limit=9999", headers=auth)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "limit"
