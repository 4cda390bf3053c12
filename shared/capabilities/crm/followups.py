"""The ``ai-events`` a CRM change causes, for the capabilities that react to it.

Each follow-up has a deterministic id (cause event id + type), so a consumer can deduplicate the
republish that follows a retried delivery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.capabilities.crm.envelope import DealStagePayload, InteractionPayload

if TYPE_CHECKING:
    from shared.capabilities.crm.envelope import CrmEvent, _Payload

LEAD_SCORING_REQUESTED = "lead.scoring_requested"
LEAD_OUTCOME_RECORDED = "lead.outcome_recorded"
CUSTOMER_HISTORY_CHANGED = "customer.history_changed"
INBOUND_MESSAGE = "interaction.inbound_message"
DEAL_STAGE_CHANGED = "deal.stage_changed"


def _followup(
    event: CrmEvent, kind: str, entity_type: str, entity_id: str, **data: Any
) -> dict[str, Any]:
    return {
        "event_id": f"{event.event_id}.{kind}",
        "event_type": kind,
        "tenant_id": event.tenant_id,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "occurred_at": event.occurred_at.isoformat(),
        "cause": {"event_id": event.event_id, "event_type": event.event_type},
        "data": data,
    }


def followups_for(event: CrmEvent, payload: _Payload) -> list[dict[str, Any]]:
    """The ai-events to publish after ``event`` was applied to the read model."""
    kind = event.event_type
    if kind in ("lead.created", "lead.updated"):
        return [_followup(event, LEAD_SCORING_REQUESTED, "lead", event.entity_id)]
    if kind in ("lead.converted", "lead.lost"):
        outcome = "won" if kind == "lead.converted" else "lost"
        return [_followup(event, LEAD_OUTCOME_RECORDED, "lead", event.entity_id, outcome=outcome)]
    if kind in ("contact.created", "contact.updated"):
        return [_followup(event, CUSTOMER_HISTORY_CHANGED, "customer", event.entity_id)]
    out: list[dict[str, Any]] = []
    if isinstance(payload, InteractionPayload):
        if payload.customer_id:
            out.append(
                _followup(
                    event,
                    CUSTOMER_HISTORY_CHANGED,
                    "customer",
                    payload.customer_id,
                    interaction_id=event.entity_id,
                    channel=payload.channel,
                )
            )
        if payload.lead_id:
            out.append(_followup(event, LEAD_SCORING_REQUESTED, "lead", payload.lead_id))
        if payload.channel == "support_message" and payload.direction == "inbound":
            out.append(
                _followup(
                    event,
                    INBOUND_MESSAGE,
                    "interaction",
                    event.entity_id,
                    customer_id=payload.customer_id,
                    lead_id=payload.lead_id,
                )
            )
    if isinstance(payload, DealStagePayload):
        out.append(
            _followup(
                event,
                DEAL_STAGE_CHANGED,
                "deal",
                event.entity_id,
                stage=payload.stage,
                status=payload.status,
            )
        )
        if payload.lead_id and payload.status in ("won", "lost"):
            out.append(
                _followup(
                    event,
                    LEAD_OUTCOME_RECORDED,
                    "lead",
                    payload.lead_id,
                    outcome=payload.status,
                    deal_id=event.entity_id,
                )
            )
    return out
