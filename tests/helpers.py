"""Small builders the tests share."""

from __future__ import annotations

import base64
import json
from typing import Any


def crm_event(
    event_type: str = "lead.created",
    *,
    event_id: str = "evt-1",
    tenant_id: str = "acme",
    entity_id: str = "lead-1",
    version: int | None = 1,
    occurred_at: str = "2026-11-01T10:00:00+00:00",
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema_version": "1",
        "event_id": event_id,
        "event_type": event_type,
        "tenant_id": tenant_id,
        "entity_id": entity_id,
        "occurred_at": occurred_at,
        "payload": payload
        if payload is not None
        else {"email": "a@example.com", "company": "Acme"},
    }
    if version is not None:
        event["version"] = version
    return event


def pubsub_push_body(
    data: bytes | dict[str, Any], message_id: str = "m-1", **attributes: str
) -> dict[str, Any]:
    """The JSON body Pub/Sub push sends to a subscriber endpoint."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return {
        "message": {
            "data": base64.b64encode(raw).decode(),
            "messageId": message_id,
            "publishTime": "2026-11-01T10:00:00.000Z",
            "attributes": attributes,
        },
        "subscription": "projects/test-project/subscriptions/crm-events-push",
    }
