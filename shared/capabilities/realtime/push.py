"""``POST /_events`` of the real-time service: the ``ai-events-stream`` push subscription keeps
each streamed event in the durable copy (:mod:`shared.capabilities.realtime.durable`), for replay on any
instance. Only Pub/Sub's push identity may call it."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from shared.core.auth.rbac import Permission
from shared.core.errors import AppError, InvalidInput
from shared.core.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from shared.capabilities.realtime.durable import StreamLog
    from shared.core.messaging.pubsub import Publisher

log = get_logger(__name__)


class StreamKeeper:
    """The push endpoint; ``stream_log()`` gives the durable copy (None: nothing is kept) and
    ``publisher()`` the dead-letter topic's publisher (both built on first use)."""

    def __init__(
        self, stream_log: Callable[[], StreamLog | None], publisher: Callable[[], Publisher]
    ) -> None:
        self._stream_log = stream_log
        self._publisher = publisher

    async def events(self, request: Request) -> JSONResponse:
        """``POST /_events``: the ``ai-events-stream`` push subscription keeps each streamed event
        in the durable copy. Only Pub/Sub's push identity may call it (its OIDC token, checked
        as every push target checks it); a message that can never be kept is dead-lettered at
        once, a transient failure answers 503 so Pub/Sub delivers again."""
        from shared.core.auth.rbac import Role, require
        from shared.core.auth.service import verify_service_call
        from shared.core.config import ENV_PUSH_SERVICE_ACCOUNT, get_settings

        settings = get_settings()
        try:
            caller = await asyncio.to_thread(
                verify_service_call,
                request.headers.get("authorization"),
                settings,
                account=settings.push_service_account,
                role=Role.SERVICE_PUBSUB,
                account_setting=ENV_PUSH_SERVICE_ACCOUNT,
            )
            require(caller, Permission.EVENTS_INGEST)
        except AppError as exc:
            log.warning("push to /_events refused: %s", exc.message)
            return JSONResponse({"error": exc.to_dict()}, status_code=exc.status_code)
        envelope = await _json_or_none(request)
        outcome = await asyncio.to_thread(self._keep, envelope)
        return JSONResponse(outcome)

    def _keep(self, envelope: Any) -> dict[str, Any]:
        from shared.core import tracing

        message = envelope.get("message") if isinstance(envelope, dict) else None
        attributes = message.get("attributes") if isinstance(message, dict) else None
        # The publisher's trace (a run, an ingested CRM event) continues here.
        with tracing.span(
            "push /_events",
            incoming=attributes if isinstance(attributes, dict) else {},
            kind="consumer",
        ):
            outcome = self._keep_traced(envelope)
            log.info("streamed event %s", outcome["status"], extra={"fields": outcome})
            return outcome

    def _keep_traced(self, envelope: Any) -> dict[str, Any]:
        from shared.capabilities.crm.ingest import (
            PubSubMessage,
            dead_letter,
            message_from_cloud_event,
        )
        from shared.capabilities.realtime.hub import envelope_problem
        from shared.core.config import TOPIC_AI_EVENTS_DEAD_LETTER

        message_id = "unidentified"
        if isinstance(envelope, dict) and isinstance(envelope.get("message"), dict):
            message_id = str(envelope["message"].get("messageId") or message_id)
        try:
            message = message_from_cloud_event(envelope, message_id)
            try:
                event = json.loads(message.data)
            except ValueError as exc:
                raise InvalidInput(
                    f"message data is not JSON: {exc}", field="message.data"
                ) from exc
            problem = envelope_problem(event)
            if problem:
                raise InvalidInput(problem, field="message.data")
            stream_log = self._stream_log()
            kept = stream_log.record(event) if stream_log is not None else False
        except InvalidInput as exc:
            raw = json.dumps(envelope, default=str).encode()
            dead_letter(
                self._publisher(),
                TOPIC_AI_EVENTS_DEAD_LETTER,
                PubSubMessage(message_id, raw),
                exc,
            )
            return {"status": "dead_lettered", "reason": exc.message}
        return {"status": "kept" if kept else "skipped"}


async def _json_or_none(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None
