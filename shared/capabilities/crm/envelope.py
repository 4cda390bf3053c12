"""The CRM event envelope (schema version 1) and the payload of each event type.

Every message on ``crm-events`` is one JSON object::

    {"schema_version": "1", "event_id": "evt_01", "event_type": "lead.created",
     "tenant_id": "acme", "entity_id": "lead_42", "version": 3,
     "occurred_at": "2026-11-24T10:00:00Z", "payload": {...}}

``version`` (a per-entity counter the CRM increments) decides which change is newer; without it,
``occurred_at`` does. Unknown top-level or payload fields are refused so that typos surface,
except inside ``custom_fields``, which carries a tenant's own CRM fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from shared.core.errors import InvalidInput
from shared.core.store.base import check_segment


def _id(value: str) -> str:
    try:
        return check_segment(value)
    except InvalidInput as exc:
        raise ValueError(exc.message.removeprefix("id ")) from exc


Id = Annotated[str, AfterValidator(_id)]
Scalar = str | int | float | bool | None
ShortText = Annotated[str, Field(max_length=1_000)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeadPayload(_Payload):
    """A lead's fields as the CRM sends them on lead.created and lead.updated: a tenant's own
    fields travel in ``custom_fields``, any other unknown field is refused, naming it."""

    email: ShortText | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    company: ShortText | None = None
    title: ShortText | None = None
    phone: ShortText | None = None
    source: ShortText | None = None
    status: ShortText | None = None
    owner_id: Id | None = None
    customer_id: Id | None = None
    estimated_value: Annotated[float, Field(ge=0)] | None = None
    custom_fields: dict[str, Scalar] = Field(default_factory=dict, max_length=500)

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise ValueError("must contain '@'")
        return value


class LeadOutcomePayload(_Payload):
    """How a lead ended (lead.converted, lead.lost): the labels lead scoring learns from."""

    reason: ShortText | None = None
    customer_id: Id | None = None
    deal_id: Id | None = None
    value: Annotated[float, Field(ge=0)] | None = None


class ContactPayload(_Payload):
    """A customer's contact fields (customer.created, customer.updated)."""

    email: ShortText | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    phone: ShortText | None = None
    company: ShortText | None = None
    title: ShortText | None = None
    account_id: Id | None = None
    lifecycle_stage: ShortText | None = None
    priority: Literal["low", "normal", "high"] | None = None
    custom_fields: dict[str, Scalar] = Field(default_factory=dict, max_length=500)


class InteractionPayload(_Payload):
    """An email, call, meeting, note or support message with a customer or lead: what insights index
    and triage reads."""

    channel: Literal["email", "call", "meeting", "note", "support_message"]
    direction: Literal["inbound", "outbound", "internal"] = "internal"
    customer_id: Id | None = None
    lead_id: Id | None = None
    subject: ShortText | None = None
    body: Annotated[str, Field(max_length=100_000)] = ""
    duration_seconds: Annotated[int, Field(ge=0)] | None = None
    author_id: Id | None = None

    @model_validator(mode="after")
    def _needs_subject(self) -> InteractionPayload:
        if self.customer_id is None and self.lead_id is None:
            raise ValueError("customer_id or lead_id is required")
        return self


class DealStagePayload(_Payload):
    """A deal's move between pipeline stages, with its amount."""

    stage: Annotated[str, Field(min_length=1, max_length=100)]
    previous_stage: ShortText | None = None
    status: Literal["open", "won", "lost"] = "open"
    amount: Annotated[float, Field(ge=0)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    customer_id: Id | None = None
    lead_id: Id | None = None
    product: ShortText | None = None
    close_date: datetime | None = None


EventType = Literal[
    "lead.created",
    "lead.updated",
    "lead.converted",
    "lead.lost",
    "contact.created",
    "contact.updated",
    "interaction.logged",
    "deal.stage_changed",
]

# event type -> (read-model collection, payload model)
EVENT_TYPES: dict[str, tuple[str, type[_Payload]]] = {
    "lead.created": ("leads", LeadPayload),
    "lead.updated": ("leads", LeadPayload),
    "lead.converted": ("leads", LeadOutcomePayload),
    "lead.lost": ("leads", LeadOutcomePayload),
    "contact.created": ("customers", ContactPayload),
    "contact.updated": ("customers", ContactPayload),
    "interaction.logged": ("interactions", InteractionPayload),
    "deal.stage_changed": ("deals", DealStagePayload),
}


class CrmEvent(BaseModel):
    """A validated envelope; ``payload`` is already checked against its event type's model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1"]
    event_id: Id
    event_type: EventType
    tenant_id: Id
    entity_id: Id
    version: Annotated[int, Field(ge=0)] | None = None
    occurred_at: AwareDatetime
    payload: dict[str, Any]

    @property
    def collection(self) -> str:
        """The read-model collection this event's entity lives in (leads, customers, ...)."""
        return EVENT_TYPES[self.event_type][0]

    def typed_payload(self) -> _Payload:
        """The payload validated as its event type's model (raises naming the field)."""
        return EVENT_TYPES[self.event_type][1].model_validate(self.payload)
