"""Read access to a tenant's CRM read model: what the AI engine knows about a record.

Routes (all tenant-scoped by the caller's token, permission ``crm:read``):
- ``GET /api/v1/ai/crm/{collection}/{record_id}``: one lead, customer, interaction or deal;
- ``GET /api/v1/ai/crm/customers/{customer_id}/interactions``: a customer's interactions, newest
  first (``?limit=`` 1-200, default 50).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.auth.rbac import Permission
from shared.errors import InvalidInput, NotFound
from shared.store.base import check_segment
from shared.web.http import Route

if TYPE_CHECKING:
    from shared.web.http import RequestContext

COLLECTIONS = ("leads", "customers", "interactions", "deals")


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    meta = doc.pop("_meta", {})
    doc["version"] = meta.get("version")
    doc["last_event_id"] = meta.get("last_event_id")
    return doc


def get_record(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    collection = ctx.params["collection"]
    if collection not in COLLECTIONS:
        raise InvalidInput(
            f"collection must be one of {', '.join(COLLECTIONS)} (got {collection!r})",
            field="collection",
        )
    record_id = check_segment(ctx.params["record_id"], field="record_id")
    doc = ctx.scope.get(ctx.scope.path(collection, record_id))
    if doc is None:
        # The same answer whether the id is unknown or another tenant's: nothing leaks.
        raise NotFound(f"no {collection[:-1]} {record_id!r} in this tenant", field="record_id")
    return _public(doc), 200


def list_interactions(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    customer_id = check_segment(ctx.params["customer_id"], field="customer_id")
    raw_limit = ctx.request.args.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 200:
        raise InvalidInput("limit must be a whole number from 1 to 200", field="limit")
    rows = ctx.scope.query(
        ctx.scope.path("interactions"),
        where=[("customer_id", "==", customer_id)],
        order_by="updated_at",  # composite index declared in terraform/modules/firestore
        descending=True,
        limit=int(raw_limit),
    )
    return {"items": [_public(doc) for _, doc in rows], "customer_id": customer_id}, 200


ROUTES = (
    Route(
        "GET",
        "/api/v1/ai/crm/customers/{customer_id}/interactions",
        Permission.CRM_READ,
        list_interactions,
    ),
    Route("GET", "/api/v1/ai/crm/{collection}/{record_id}", Permission.CRM_READ, get_record),
)
