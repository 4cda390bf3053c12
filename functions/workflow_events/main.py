"""Pub/Sub push target for ``ai-events`` (filtered to the events workflows react to): start the
workflow the tenant configured for the event."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.entrypoints import handle_pubsub_workflow_event

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent


@functions_framework.cloud_event
def handle_workflow_event(cloud_event: CloudEvent) -> None:
    handle_pubsub_workflow_event(cloud_event)
