"""CRM events in, tenant read model out."""

from shared.capabilities.crm.envelope import EVENT_TYPES, CrmEvent
from shared.capabilities.crm.ingest import (
    CrmIngestor,
    IngestResult,
    PubSubMessage,
    message_from_cloud_event,
)
from shared.capabilities.crm.parsing import parse_event

__all__ = [
    "EVENT_TYPES",
    "CrmEvent",
    "CrmIngestor",
    "IngestResult",
    "PubSubMessage",
    "message_from_cloud_event",
    "parse_event",
]
