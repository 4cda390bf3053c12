"""Pub/Sub push target for topic ``crm-events``: CRM changes into the tenant read model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.entrypoints import handle_pubsub_crm_event

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent


@functions_framework.cloud_event
def handle_crm_event(cloud_event: CloudEvent) -> None:
    handle_pubsub_crm_event(cloud_event)
