"""Pub/Sub push target for ``ai-events`` (filtered to lead.scoring_requested): rescore the lead."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.entrypoints import handle_pubsub_ai_event

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent


@functions_framework.cloud_event
def handle_ai_event(cloud_event: CloudEvent) -> None:
    handle_pubsub_ai_event(cloud_event)
