"""Pub/Sub push target for ``ai-events`` (filtered to customer.history_changed): index the
customer's new interaction for retrieval."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.entrypoints import handle_pubsub_history_event

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent


@functions_framework.cloud_event
def handle_history_event(cloud_event: CloudEvent) -> None:
    handle_pubsub_history_event(cloud_event)
