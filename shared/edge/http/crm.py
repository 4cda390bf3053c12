"""Read access to a tenant's CRM read model: what the AI engine knows about a record.

Routes (all tenant-scoped by the caller's token, permission ``crm:read``):
- ``GET /api/v1/ai/crm/{collection}/{record_id}``: one lead, customer, interaction or deal;
- ``GET /api/v1/ai/crm/customers/{customer_id}/interactions``: a customer's interactions, newest
  first (``?limit=`` 1-200, default 50).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from shared.capabilities.crm.readmodel import entity_fields, entity_meta
from shared.core.auth.rbac import Permission
from shared.core.errors import NotFound
from shared.core.web.contract import Id, Query, Request, ResponseBody
from shared.core.web.http import Route

if TYPE_CHECKING:
    from shared.edge.http import Ctx


class RecordPath(Request):
    """Which read-model record to read."""

    collection: Literal["leads", "customers", "interactions", "deals"]
    record_id: Id


class InteractionsQuery(Query):
    """How many of a customer's interactions to return."""

    limit: int = Field(50, ge=1, le=200, description="How many, newest first")


class CrmRecord(ResponseBody):
    """The read model's copy of a CRM record: its fields as the CRM sent them, plus these."""

    version: int | None = Field(description="The CRM's version of the record last applied")
    last_event_id: str | None = Field(description="The CRM event that last changed it")


class Interactions(ResponseBody):
    """A customer's interactions, newest first."""

    items: list[CrmRecord]
    customer_id: str


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    meta = entity_meta(doc)
    return {
        **entity_fields(doc),
        "version": meta.get("version"),
        "last_event_id": meta.get("last_event_id"),
    }


def get_record(ctx: Ctx) -> tuple[CrmRecord, int]:
    """``GET /api/v1/ai/crm/{collection}/{record_id}``: One lead, customer, interaction or deal from
    the tenant's read model."""
    collection, record_id = ctx.params["collection"], ctx.params["record_id"]
    doc = ctx.scope.get(ctx.scope.path(collection, record_id))
    if doc is None:
        # The same answer whether the id is unknown or another tenant's: nothing leaks.
        raise NotFound(f"no {collection[:-1]} {record_id!r} in this tenant", field="record_id")
    return CrmRecord.model_validate(_public(doc)), 200


def list_interactions(ctx: Ctx) -> tuple[Interactions, int]:
    """``GET /api/v1/ai/crm/customers/{customer_id}/interactions``: A customer's interactions from
    the read model, newest first."""
    customer_id = ctx.params["customer_id"]
    rows = ctx.scope.query(
        ctx.scope.path("interactions"),
        where=[("customer_id", "==", customer_id)],
        order_by="updated_at",  # composite index declared in terraform/modules/firestore
        descending=True,
        limit=ctx.query(InteractionsQuery).limit,
    )
    items = [_public(doc) for _, doc in rows]
    return Interactions.model_validate({"items": items, "customer_id": customer_id}), 200


ROUTES = (
    Route(
        "GET",
        "/api/v1/ai/crm/customers/{customer_id}/interactions",
        Permission.CRM_READ,
        list_interactions,
        query=InteractionsQuery,
        response=Interactions,
    ),
    Route(
        "GET",
        "/api/v1/ai/crm/{collection}/{record_id}",
        Permission.CRM_READ,
        get_record,
        path=RecordPath,
        response=CrmRecord,
        errors=(404,),
    ),
)
