"""What each deployed function's ``main.py`` calls: decode the trigger, call the core, map.

Kept here rather than in ``main.py`` so every entry point stays a few lines (CONVENTIONS 1).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

from shared.capabilities.crm.ingest import PubSubMessage, dead_letter, message_from_cloud_event
from shared.core import tracing
from shared.core.config import TOPIC_AI_EVENTS_DEAD_LETTER, get_settings
from shared.core.errors import AppError, InvalidInput
from shared.core.log import get_logger, log_context
from shared.core.store import counting
from shared.core.writebehind import unit_of_work
from shared.edge.services import current, init_logging

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import flask
    from pydantic import BaseModel

    from shared.core.auth.principal import Principal
    from shared.core.auth.rbac import Permission, Role
    from shared.core.store.base import DocumentStore
    from shared.core.tenancy.scope import TenantStore
    from shared.core.web.contract import JobBody
    from shared.core.web.http import Response, Route
    from shared.edge.services import Services

_log = get_logger("entrypoints")
B = TypeVar("B", bound="BaseModel")


def handle_pubsub_crm_event(request: flask.Request) -> Response:
    """Ingest one ``crm-events`` push (:func:`handle_pubsub_push`): a malformed message goes to
    ``crm-events-dead-letter`` with the reason. Raises on transient failure so Pub/Sub retries."""

    def ingest(data: Any, message_id: str, services: Services) -> dict[str, Any]:
        ingestor = services.crm_ingestor
        try:
            message = message_from_cloud_event(data, message_id)
        except InvalidInput as exc:
            # Keep what arrived, whatever its shape, on the dead-letter topic.
            raw = json.dumps(data, default=str).encode()
            result = ingestor.handle_invalid(PubSubMessage(message_id, raw), exc)
        else:
            result = ingestor.handle(message)
        return {"status": result.status, "followups": result.followups, "reason": result.reason}

    return handle_pubsub_push(request, ingest)


def handle_pubsub_push(
    request: flask.Request, handle: Callable[[Any, str, Services], Mapping[str, Any]]
) -> Response:
    """Serve one Pub/Sub push: verify the push subscription's OIDC token (the identity in
    ``PUSH_SERVICE_ACCOUNT``, for this unit's ``SERVICE_AUDIENCE``; 401 or 403 otherwise, so
    Pub/Sub retries and then dead-letters), then run ``handle(envelope, message_id, services)`` on
    the push body (``{"message": {...}, "subscription": ...}``) as one unit of work. 200
    acknowledges; an exception (a transient failure) answers 500 and Pub/Sub delivers again."""
    from shared.core.auth.rbac import Permission, Role, require
    from shared.core.config import ENV_PUSH_SERVICE_ACCOUNT
    from shared.core.web.http import JSON_HEADERS, error_response, to_json

    init_logging()
    envelope: Any = request.get_json(silent=True)
    message = envelope.get("message") if isinstance(envelope, dict) else None
    found = (
        message.get("messageId") or message.get("message_id") if isinstance(message, dict) else None
    )
    message_id = str(found) if found else f"unidentified-{uuid.uuid4().hex}"
    attributes = message.get("attributes") if isinstance(message, dict) else None
    # The publisher's trace continues here (its traceparent rides in the message's attributes).
    with tracing.span(
        f"push {request.path}",
        incoming=attributes if isinstance(attributes, dict) else {},
        kind="consumer",
        attributes={"messaging.system": "gcp_pubsub", "messaging.message.id": message_id},
    ):
        try:
            caller = _service_identity(
                request,
                get_settings().push_service_account,
                Role.SERVICE_PUBSUB,
                ENV_PUSH_SERVICE_ACCOUNT,
            )
            require(caller, Permission.EVENTS_INGEST)
        except AppError as exc:
            _log.warning("push to %s refused: %s", request.path, exc.message)
            return error_response(exc, message_id)
        with unit_of_work(), counting.measure() as ops:
            services = current()
            outcome = handle(envelope, message_id, services)
            services.flush_writes()
        counting.log_work(f"push {request.path}", ops, status=outcome.get("status"))
        return to_json(dict(outcome)), 200, dict(JSON_HEADERS)


def handle_http(request: flask.Request, routes: tuple[Route, ...]) -> Response:
    """Serve one HTTP request against ``routes`` with the process's services (the handlers find
    them on their context)."""
    from shared.core.web.http import with_cors

    init_logging()
    services = current()
    return with_cors(
        request,
        routes,
        frozenset(services.settings.cors_origins),
        lambda: _dispatch_unit(request, routes, services),
    )


def _dispatch_unit(
    request: flask.Request, routes: tuple[Route, ...], services: Services
) -> Response:
    """One HTTP request as one unit of work: it waits for its own writes behind, and only those."""
    from shared.core.web.http import dispatch

    with unit_of_work():
        return dispatch(
            request,
            routes,
            verifier=services.verifier,
            store=services.store,
            services=services,
            after=services.flush_writes,
        )


def handle_pubsub_ai_event(request: flask.Request) -> Response:
    """Rescore a lead on ``lead.scoring_requested``. Raises on transient failure (Pub/Sub
    retries); a malformed message is dead-lettered at once (:func:`_ai_event`)."""
    from shared.capabilities.scoring.events import handle_ai_event

    return _ai_event(
        request,
        lambda message, services: handle_ai_event(message, services.store, services.publisher),
    )


def _ai_event(
    request: flask.Request, handle: Callable[[PubSubMessage, Services], Mapping[str, Any]]
) -> Response:
    """Run ``handle`` on an ``ai-events`` push (:func:`handle_pubsub_push`). A message that can
    never succeed (not a Pub/Sub message, not an ai-event, a malformed field: ``InvalidInput``)
    goes to ``ai-events-dead-letter`` at once with the reason, and the push is acknowledged,
    rather than being retried until the subscription gives up on it. Transient failures raise so
    Pub/Sub delivers again (if the dead-letter publish itself fails, that raises too: nothing is
    dropped)."""

    def run(data: Any, message_id: str, services: Services) -> Mapping[str, Any]:
        try:
            message = message_from_cloud_event(data, message_id)
        except InvalidInput as exc:
            message, problem = (
                PubSubMessage(message_id, json.dumps(data, default=str).encode()),
                exc,
            )
        else:
            try:
                return handle(message, services)
            except InvalidInput as exc:
                problem = exc
        dead_letter(services.publisher, TOPIC_AI_EVENTS_DEAD_LETTER, message, problem)
        return {"status": "dead_lettered", "reason": problem.message}

    return handle_pubsub_push(request, run)


def _service_identity(
    request: flask.Request, account: str | None, role: Role, account_setting: str
) -> Principal:
    """The caller's OIDC token on ``request``, as :func:`~shared.core.auth.service.verify_service_call`
    checks it."""
    from shared.core.auth.service import verify_service_call

    return verify_service_call(
        request.headers.get("Authorization"),
        get_settings(),
        account=account,
        role=role,
        account_setting=account_setting,
    )


def scheduler_caller(request: flask.Request) -> Principal:
    """Cloud Scheduler's OIDC token for the scheduler identity (``service:scheduler``)."""
    from shared.core.auth.rbac import Role
    from shared.core.config import ENV_SCHEDULER_SERVICE_ACCOUNT

    account = get_settings().scheduler_service_account
    return _service_identity(
        request, account, Role.SERVICE_SCHEDULER, ENV_SCHEDULER_SERVICE_ACCOUNT
    )


def tasks_caller(request: flask.Request) -> Principal:
    """Cloud Tasks' OIDC token for the tasks identity (``service:tasks``); the Cloud Tasks
    emulator gets one from the local issuer (devstack/emulators.py)."""
    from shared.core.auth.rbac import Role
    from shared.core.config import ENV_TASKS_SERVICE_ACCOUNT

    account = get_settings().tasks_service_account
    return _service_identity(request, account, Role.SERVICE_TASKS, ENV_TASKS_SERVICE_ACCOUNT)


def handle_service_call(
    request: flask.Request,
    caller: Callable[[flask.Request], Principal],
    permission: Permission,
    body_model: type[B],
    run: Callable[[B, Services], Mapping[str, Any]],
) -> Response:
    """Serve a call from our own infrastructure (Cloud Scheduler, Cloud Tasks): authenticate
    with ``caller``, require ``permission``, validate the JSON body as ``body_model`` (400
    naming the field), run ``run`` on it and the process's services, map errors (a retryable one answers 503 so the
    platform retries)."""
    from pydantic import ValidationError

    from shared.core.auth.rbac import require
    from shared.core.web.http import JSON_HEADERS, error_response, to_json
    from shared.core.web.validation import invalid_input

    init_logging()
    request_id = request.headers.get("X-CloudTasks-TaskName") or request.headers.get(
        "X-Request-ID", ""
    )
    # A task carries the trace of the run that enqueued it; a scheduled job starts one.
    with tracing.span(f"POST {request.path}", incoming=request.headers, kind="server"):
        try:
            require(caller(request), permission)
            try:
                body = body_model.model_validate_json(request.get_data() or b"{}")
            except ValidationError as exc:
                raise invalid_input(exc) from None
            services = current()
            with unit_of_work(), counting.measure() as ops:
                outcome = run(body, services)
                services.flush_writes()
            counting.log_work(f"POST {request.path}", ops, run_id=getattr(body, "run_id", None))
            return to_json(dict(outcome)), 200, dict(JSON_HEADERS)
        except AppError as exc:
            _log.warning("%s refused or failed: %s", request.path, exc.message)
            return error_response(exc, request_id)


def job_tenants(body: JobBody, store: DocumentStore) -> list[str]:
    """The tenants a scheduled job covers: ``tenant_id`` when the body names one, else every
    tenant registered by its first CRM event."""
    from shared.core.tenancy.scope import TENANTS

    if body.tenant_id is not None:
        return [body.tenant_id]
    return [tenant_id for tenant_id, _ in store.query(TENANTS)]


def for_each_tenant(
    body: JobBody, store: DocumentStore, job: str, work: Callable[[TenantStore], Any]
) -> dict[str, Any]:
    """Run the scheduled ``job``'s ``work`` on each tenant it covers (:func:`job_tenants`), each
    in its tenant's log context. A tenant's permanent error is reported as ``{"skipped": reason}`` and
    the others go on; a transient one raises, so Cloud Scheduler runs the job again."""
    from shared.core.tenancy.scope import TenantStore

    results: dict[str, Any] = {}
    for tenant_id in job_tenants(body, store):
        with log_context(tenant_id=tenant_id, job=job):
            try:
                results[tenant_id] = work(TenantStore(store, tenant_id))
            except AppError as exc:
                if exc.retryable:
                    raise
                results[tenant_id] = {"skipped": exc.message}
    return results


def handle_pubsub_workflow_event(request: flask.Request) -> Response:
    """Start the workflow a tenant configured for an ai-event (``interaction.inbound_message``).
    Raises on transient failure (Pub/Sub retries); a malformed message is dead-lettered at once."""
    from shared.capabilities.workflows.triggers import handle_workflow_event

    return _ai_event(
        request,
        lambda message, services: handle_workflow_event(
            message,
            services.store,
            services.publisher,
            services.tasks,
            get_settings().workflow_runner_url,
        ),
    )


def handle_pubsub_history_event(request: flask.Request) -> Response:
    """Index the interaction a ``customer.history_changed`` ai-event names. Raises on transient
    failure (Pub/Sub retries); a malformed message is dead-lettered at once."""
    from shared.capabilities.insights.history import handle_history_event

    return _ai_event(
        request,
        lambda message, services: handle_history_event(
            message,
            services.store,
            services.embedder,
            services.llm,
            services.publisher,
        ),
    )
