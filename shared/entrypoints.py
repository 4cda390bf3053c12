"""What each deployed function's ``main.py`` calls: decode the trigger, call the core, map.

Kept here rather than in ``main.py`` so every entry point stays a few lines (CONVENTIONS 1).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from shared import runtime
from shared.config import get_settings
from shared.crm.ingest import IngestResult, PubSubMessage, message_from_cloud_event
from shared.errors import InvalidInput

if TYPE_CHECKING:
    import flask
    from cloudevents.http import CloudEvent

    from shared.auth.principal import Principal
    from shared.web.http import Response, Route


def handle_pubsub_crm_event(cloud_event: CloudEvent) -> IngestResult:
    """Ingest one ``crm-events`` delivery. Raises on transient failure so Pub/Sub retries."""
    runtime.init_logging()
    ingestor = runtime.crm_ingestor()
    data: Any = cloud_event.get_data()
    try:
        message = message_from_cloud_event(data, str(cloud_event["id"]))
    except InvalidInput as exc:
        # Keep what arrived, whatever its shape, on the dead-letter topic.
        raw = json.dumps(data, default=str).encode()
        return ingestor.handle_invalid(PubSubMessage(str(cloud_event["id"]), raw), exc)
    return ingestor.handle(message)


def handle_http(request: flask.Request, routes: tuple[Route, ...]) -> Response:
    """Serve one HTTP request against ``routes`` with the process's verifier and store."""
    from shared.web.http import dispatch

    runtime.init_logging()
    return dispatch(
        request,
        routes,
        verifier=runtime.token_verifier(),
        store=runtime.document_store(),
        project_id=get_settings().project_id,
    )


def handle_pubsub_ai_event(cloud_event: CloudEvent) -> dict[str, Any]:
    """Rescore a lead on ``lead.scoring_requested``. Raises on transient failure (Pub/Sub retries);
    a message that is not an ai-event raises InvalidInput and goes to the dead-letter topic after
    the subscription's delivery attempts."""
    from shared.scoring.events import handle_ai_event

    runtime.init_logging()
    message = message_from_cloud_event(cloud_event.get_data(), str(cloud_event["id"]))
    return handle_ai_event(message, runtime.document_store(), runtime.publisher())


def scheduler_caller(request: flask.Request) -> Principal:
    """Who calls a scheduled job: in the cloud, Cloud Scheduler's Google OIDC token for the job's
    service account (``service:scheduler``); locally, a dev JWT with that role."""
    settings = get_settings()
    header = request.headers.get("Authorization")
    if settings.is_cloud:
        from shared.auth.rbac import Role
        from shared.auth.service import ServiceTokenVerifier

        identities = (
            {settings.scheduler_service_account: Role.SERVICE_SCHEDULER}
            if settings.scheduler_service_account
            else {}
        )
        # Cloud Scheduler mints the token for the job's URI; accept it with or without the slash.
        base = (settings.service_audience or request.host_url).rstrip("/")
        verifier = ServiceTokenVerifier(audience=[base, f"{base}/"], identities=identities)
        return verifier.verify(header)
    return runtime.token_verifier().verify(header)


def handle_pubsub_workflow_event(cloud_event: CloudEvent) -> dict[str, Any]:
    """Start the workflow a tenant configured for an ai-event (``interaction.inbound_message``).
    Raises on transient failure (Pub/Sub retries); a message that is not an ai-event raises
    InvalidInput and is dead-lettered after the subscription's delivery attempts."""
    from shared.workflows.triggers import handle_workflow_event

    runtime.init_logging()
    message = message_from_cloud_event(cloud_event.get_data(), str(cloud_event["id"]))
    return handle_workflow_event(
        message,
        runtime.document_store(),
        runtime.publisher(),
        runtime.task_queue(),
        get_settings().workflow_runner_url,
    )


def handle_pubsub_history_event(cloud_event: CloudEvent) -> dict[str, Any]:
    """Index the interaction a ``customer.history_changed`` ai-event names. Raises on transient
    failure (Pub/Sub retries); a message that is not an ai-event is dead-lettered."""
    from shared.insights.history import handle_history_event

    runtime.init_logging()
    message = message_from_cloud_event(cloud_event.get_data(), str(cloud_event["id"]))
    return handle_history_event(
        message,
        runtime.document_store(),
        runtime.embedder(),
        runtime.llm_client(),
        runtime.publisher(),
    )
