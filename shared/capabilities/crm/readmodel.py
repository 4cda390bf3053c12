"""Applying a CRM event to the tenant's read model, once, and never going back in time.

Each entity document keeps ``_meta`` (version, occurred_at, the last event id and type). An event
older than the stored state is ignored as stale; an event that already produced the stored state
(its id is ``_meta.last_event_id``) counts as applied again, so a retry after a crash between the
write and the follow-up publish still publishes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

if TYPE_CHECKING:
    from collections.abc import Mapping

    from shared.capabilities.crm.envelope import CrmEvent, _Payload
    from shared.core.tenancy.scope import TenantStore

Outcome = Literal["applied", "stale"]
META = "_meta"  # the read model's bookkeeping on each entity document


class EntityMeta(TypedDict, total=False):
    """What the read model keeps about the event that last changed an entity."""

    version: int | None
    occurred_at: datetime
    last_event_id: str
    last_event_type: str
    applied_at: datetime


def entity_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An entity as the CRM sent it, without the read model's bookkeeping: what a prompt, a
    feature row or an API answer may show. A copy; ``doc`` is unchanged."""
    return {key: value for key, value in doc.items() if key != META}


def entity_meta(doc: Mapping[str, Any] | None) -> EntityMeta:
    """The read model's bookkeeping on an entity document (empty before its first event)."""
    return cast("EntityMeta", (doc or {}).get(META) or {})


def recent_interactions(
    scope: TenantStore, customer_id: str, limit: int = 20
) -> list[dict[str, Any]]:
    """A customer's latest interactions, newest first, as the CRM sent them (what a workflow
    reads as the customer's history)."""
    rows = scope.query(
        scope.path("interactions"),
        where=[("customer_id", "==", customer_id)],
        order_by="updated_at",
        descending=True,
        limit=limit,
    )
    return [entity_fields(doc) for _, doc in rows]


def _is_newer(event: CrmEvent, meta: EntityMeta) -> bool:
    stored_version = meta.get("version")
    if event.version is not None and stored_version is not None:
        return bool(event.version > stored_version)
    stored_at = meta.get("occurred_at")
    return stored_at is None or event.occurred_at > stored_at


def _merge(event: CrmEvent, payload: _Payload, current: dict[str, Any] | None) -> dict[str, Any]:
    doc = dict(current or {})
    changes = payload.model_dump(mode="python", exclude_unset=True)
    custom = changes.pop("custom_fields", None)
    if event.event_type in ("lead.converted", "lead.lost"):
        doc["status"] = "converted" if event.event_type == "lead.converted" else "lost"
        doc["outcome"] = {**changes, "at": event.occurred_at}
    else:
        doc.update(changes)
    if custom:
        doc["custom_fields"] = {**doc.get("custom_fields", {}), **custom}
    if event.event_type == "lead.created":
        doc.setdefault("status", "open")
    doc["id"] = event.entity_id
    doc["tenant_id"] = event.tenant_id
    doc.setdefault("created_at", event.occurred_at)
    doc["updated_at"] = event.occurred_at
    doc[META] = {
        "version": event.version,
        "occurred_at": event.occurred_at,
        "last_event_id": event.event_id,
        "last_event_type": event.event_type,
        "applied_at": datetime.now(UTC),
    }
    return doc


def read_in(
    tx: Any, scope: TenantStore, event: CrmEvent
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The entity's current document and the tenant's registry document, read in ``tx``."""
    return tx.get(scope.path(event.collection, event.entity_id)), tx.get(scope.root)


def apply_in(
    tx: Any,
    scope: TenantStore,
    event: CrmEvent,
    payload: _Payload,
    current: dict[str, Any] | None,
    tenant: dict[str, Any] | None,
) -> Outcome:
    """Write ``event`` in ``tx`` given what :func:`read_in` returned."""
    meta = entity_meta(current)
    if meta.get("last_event_id") == event.event_id:
        return "applied"
    if current is not None and not _is_newer(event, meta):
        return "stale"
    if tenant is None:
        # The tenant registry that scheduled jobs walk (training, drift checks).
        tx.set(scope.root, {"tenant_id": event.tenant_id, "first_event_at": event.occurred_at})
    tx.set(scope.path(event.collection, event.entity_id), _merge(event, payload, current))
    return "applied"


def apply_event(scope: TenantStore, event: CrmEvent, payload: _Payload) -> Outcome:
    """Write ``event`` into ``tenants/{tenant}/{collection}/{entity}`` in one transaction."""

    def _apply(tx: Any) -> Outcome:
        current, tenant = read_in(tx, scope, event)
        return apply_in(tx, scope, event, payload, current, tenant)

    outcome: Outcome = scope.run_transaction(_apply)
    return outcome
