"""What each deployed function's ``main.py`` calls: decode the trigger, call the core, map.

Kept here rather than in ``main.py`` so every entry point stays a few lines (CONVENTIONS 1).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

from shared import runtime
from shared.config import get_settings
from shared.crm.ingest import IngestResult, PubSubMessage, message_from_cloud_event
from shared.errors import AppError, InvalidInput
from shared.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    import flask
    from cloudevents.http import CloudEvent
    from pydantic import BaseModel

    from shared.auth.principal import Principal
    from shared.auth.rbac import Permission, Role
    from shared.web.contract import JobBody
    from shared.web.http import Response, Route

_log = get_logger("entrypoints")
B = TypeVar("B", bound="BaseModel")


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
    """Rescore a lead on ``lead.scoring_requested``. Raises on transient failure (Pub/Sub
    retries); a malformed message is dead-lettered at once (:func:`_ai_event`)."""
    from shared.scoring.events import handle_ai_event

    return _ai_event(
        cloud_event,
        lambda message: handle_ai_event(message, runtime.document_store(), runtime.publisher()),
    )


def _ai_event(
    cloud_event: CloudEvent, handle: Callable[[PubSubMessage], dict[str, Any]]
) -> dict[str, Any]:
    """Run ``handle`` on an ``ai-events`` push. A message that can never succeed (not a Pub/Sub
    message, not an ai-event, a malformed field: ``InvalidInput``) goes to ``ai-events-dead-letter``
    at once with the reason, and the push is acknowledged, rather than being retried until the
    subscription gives up on it. Transient failures raise so Pub/Sub delivers again (if the
    dead-letter publish itself fails, that raises too: nothing is dropped)."""
    from shared.config import TOPIC_AI_EVENTS_DEAD_LETTER

    runtime.init_logging()
    data: Any = cloud_event.get_data()
    message_id = str(cloud_event["id"])
    try:
        message = message_from_cloud_event(data, message_id)
    except InvalidInput as exc:
        message, problem = PubSubMessage(message_id, json.dumps(data, default=str).encode()), exc
    else:
        try:
            return handle(message)
        except InvalidInput as exc:
            problem = exc
    runtime.publisher().publish(
        TOPIC_AI_EVENTS_DEAD_LETTER,
        message.data,
        attributes={
            **message.attributes,
            "error_code": problem.code,
            "error_message": problem.message[:1000],
            "error_field": problem.field or "",
            "original_message_id": message.message_id,
        },
    )
    _log.warning(
        "ai-event rejected to the dead-letter topic: %s",
        problem.message,
        extra={"fields": {"error_code": problem.code, "error_field": problem.field}},
    )
    return {"status": "dead_lettered", "reason": problem.message}


def _google_identity(
    request: flask.Request, account: str | None, role: Role, audience: str
) -> Principal:
    """Our own caller's Google OIDC token: signed by Google, minted for ``audience`` (with or
    without the trailing slash), for the one service account that maps to ``role``."""
    from shared.auth.service import ServiceTokenVerifier

    base = audience.rstrip("/")
    verifier = ServiceTokenVerifier(
        audience=[base, f"{base}/"], identities={account: role} if account else {}
    )
    return verifier.verify(request.headers.get("Authorization"))


def scheduler_caller(request: flask.Request) -> Principal:
    """Who calls a scheduled job: in the cloud, Cloud Scheduler's Google OIDC token for the job's
    service account (``service:scheduler``); locally, a dev JWT with that role."""
    from shared.auth.rbac import Role

    settings = get_settings()
    if settings.is_cloud:
        audience = settings.service_audience or request.host_url
        return _google_identity(
            request, settings.scheduler_service_account, Role.SERVICE_SCHEDULER, audience
        )
    return runtime.token_verifier().verify(request.headers.get("Authorization"))


def tasks_caller(request: flask.Request) -> Principal:
    """Who calls a Cloud Tasks target: in the cloud, Cloud Tasks' Google OIDC token for the tasks
    identity. Locally the emulator sends no token: a request carrying its
    ``X-CloudTasks-TaskName`` header is taken as ``service:tasks`` (as the event functions trust
    loopback callers; see the README)."""
    from shared.auth.principal import Principal
    from shared.auth.rbac import Role

    settings = get_settings()
    if settings.is_cloud:
        audience = settings.workflow_runner_url or request.base_url
        return _google_identity(
            request, settings.tasks_service_account, Role.SERVICE_TASKS, audience
        )
    if request.headers.get("X-CloudTasks-TaskName"):
        return Principal(
            subject="cloud-tasks-emulator",
            tenant_id=None,
            roles=frozenset({Role.SERVICE_TASKS.value}),
            is_service=True,
        )
    return runtime.token_verifier().verify(request.headers.get("Authorization"))


def handle_service_call(
    request: flask.Request,
    caller: Callable[[flask.Request], Principal],
    permission: Permission,
    body_model: type[B],
    run: Callable[[B], dict[str, Any]],
) -> Response:
    """Serve a call from our own infrastructure (Cloud Scheduler, Cloud Tasks): authenticate
    with ``caller``, require ``permission``, validate the JSON body as ``body_model`` (400
    naming the field), run ``run`` on it, map errors (a retryable one answers 503 so the
    platform retries)."""
    from pydantic import ValidationError

    from shared.auth.rbac import require
    from shared.web.http import JSON_HEADERS, error_response, invalid_input, to_json

    runtime.init_logging()
    request_id = request.headers.get("X-CloudTasks-TaskName") or request.headers.get(
        "X-Request-ID", ""
    )
    try:
        require(caller(request), permission)
        try:
            body = body_model.model_validate_json(request.get_data() or b"{}")
        except ValidationError as exc:
            raise invalid_input(exc) from None
        return to_json(run(body)), 200, dict(JSON_HEADERS)
    except AppError as exc:
        _log.warning("%s refused or failed: %s", request.path, exc.message)
        return error_response(exc, request_id)


def job_tenants(body: JobBody) -> list[str]:
    """The tenants a scheduled job covers: ``tenant_id`` when the body names one, else every
    tenant registered by its first CRM event."""
    from shared.tenancy.scope import TENANTS

    if body.tenant_id is not None:
        return [body.tenant_id]
    return [tenant_id for tenant_id, _ in runtime.document_store().query(TENANTS)]


def handle_pubsub_workflow_event(cloud_event: CloudEvent) -> dict[str, Any]:
    """Start the workflow a tenant configured for an ai-event (``interaction.inbound_message``).
    Raises on transient failure (Pub/Sub retries); a malformed message is dead-lettered at once."""
    from shared.workflows.triggers import handle_workflow_event

    return _ai_event(
        cloud_event,
        lambda message: handle_workflow_event(
            message,
            runtime.document_store(),
            runtime.publisher(),
            runtime.task_queue(),
            get_settings().workflow_runner_url,
        ),
    )


def handle_pubsub_history_event(cloud_event: CloudEvent) -> dict[str, Any]:
    """Index the interaction a ``customer.history_changed`` ai-event names. Raises on transient
    failure (Pub/Sub retries); a malformed message is dead-lettered at once."""
    from shared.insights.history import handle_history_event

    return _ai_event(
        cloud_event,
        lambda message: handle_history_event(
            message,
            runtime.document_store(),
            runtime.embedder(),
            runtime.llm_client(),
            runtime.publisher(),
        ),
    )
