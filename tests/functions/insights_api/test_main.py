from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.conftest import TokenFactory

BASE = "/api/v1/ai/knowledge"


def test_knowledge_documents_admin_only_searchable_and_tenant_scoped(
    function_client: Any, make_token: TokenFactory
) -> None:
    api = function_client("insights_api", "insights_api")
    admin = {"Authorization": "Bearer " + make_token("acme", ["admin"])}
    viewer = {"Authorization": "Bearer " + make_token("acme", ["viewer"])}
    doc = {
        "title": "Refund policy",
        "format": "markdown",
        "doc_id": "refunds",
        "content": "# Refunds\n\nDamaged items are refunded in full within 30 days.",
    }
    assert api.post(BASE, json=doc, headers=viewer).status_code == 403
    added = api.post(BASE, json=doc, headers=admin)
    assert added.status_code == 201 and added.get_json()["chunks"] == 2
    data = {"title": "Shipping", "format": "json", "content": {"express": {"days": "1-2"}}}
    assert api.post(BASE, json=data, headers=admin).status_code == 201
    for body, status, field in (
        ({"title": "x", "content": "y", "format": "pdf"}, 400, "format"),
        ({"title": "", "content": "y"}, 400, "title"),
        ({"title": "x", "content": {"a": 1}}, 400, "content"),  # a JSON value needs format json
        # Text the schema allows that does not parse as the JSON it claims to be: a rule, 422.
        ({"title": "x", "content": "{oops", "format": "json"}, 422, "content"),
    ):
        bad = api.post(BASE, json=body, headers=admin)
        assert bad.status_code == status and bad.get_json()["error"]["field"] == field
    listed = api.get(BASE, headers=viewer).get_json()["documents"]
    assert {d["doc_id"] for d in listed} >= {"refunds"}
    found = api.post(f"{BASE}/search", json={"query": "refund for a damaged item"}, headers=viewer)
    assert found.get_json()["results"][0]["id"] == "refunds"
    other = {"Authorization": "Bearer " + make_token("globex", ["viewer"])}
    assert (
        api.post(f"{BASE}/search", json={"query": "refund"}, headers=other).get_json()["results"]
        == []
    )
    assert api.delete(f"{BASE}/refunds", headers=admin).get_json() == {"deleted": "refunds"}
    assert api.delete(f"{BASE}/refunds", headers=admin).status_code == 404
