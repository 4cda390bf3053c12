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


# The push endpoint gathers the events that arrive within this window and writes them in one
# batch: on the Firestore emulator a single-document commit costs 3-6 ms of its CPU, a document in
# a batch of ten under 1.2 ms (issue 19); the pushes wait for the batch's commit before answering.
GATHER_WINDOW_S = 0.1


class _Gathered:
    """Events kept in batches: each caller waits for the batch its event went into; an error
    writing the batch is raised to every caller in it (each push then answers 500 and Pub/Sub
    delivers it again)."""

    def __init__(self, write: Callable[[list[dict[str, Any]]], list[bool]]) -> None:
        self._write = write
        self._pending: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._timer: asyncio.Task[None] | None = None

    async def keep(self, event: dict[str, Any]) -> bool:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        self._pending.append((event, done))
        if self._timer is None:
            self._timer = loop.create_task(self._flush_after(GATHER_WINDOW_S))
        return await done

    async def _flush_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        batch, self._pending, self._timer = self._pending, [], None
        try:
            kept = await asyncio.to_thread(self._write, [event for event, _ in batch])
        except Exception as exc:  # noqa: BLE001 - not swallowed: every waiting push raises it
            for _, done in batch:
                done.set_exception(exc)
            return
        for (_, done), was_kept in zip(batch, kept, strict=True):
            done.set_result(was_kept)


class StreamKeeper:
    """The push endpoint; ``stream_log()`` gives the durable copy (None: nothing is kept) and
    ``publisher()`` the dead-letter topic's publisher (both built on first use)."""

    def __init__(
        self, stream_log: Callable[[], StreamLog | None], publisher: Callable[[], Publisher]
    ) -> None:
        self._stream_log = stream_log
        self._publisher = publisher
        self._gathered: _Gathered | None = None

    async def events(self, request: Request) -> JSONResponse:
        """``POST /_events``: the ``ai-events-stream`` push subscription keeps each streamed event
        in the durable copy (events arriving together are written in one batch). Only Pub/Sub's
        push identity may call it (its OIDC token, checked as every push target checks it); a
        message that can never be kept is dead-lettered at once, a transient failure answers
        500 so Pub/Sub delivers again."""
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
        return JSONResponse(await self._keep(envelope))

    async def _keep(self, envelope: Any) -> dict[str, Any]:
        from shared.core import tracing

        message = envelope.get("message") if isinstance(envelope, dict) else None
        attributes = message.get("attributes") if isinstance(message, dict) else None
        # The publisher's trace (a run, an ingested CRM event) continues here.
        with tracing.span(
            "push /_events",
            incoming=attributes if isinstance(attributes, dict) else {},
            kind="consumer",
        ):
            event, outcome = await asyncio.to_thread(self._check, envelope)
            if event is not None:
                stream_log = self._stream_log()
                kept = False
                if stream_log is not None:
                    if self._gathered is None:
                        self._gathered = _Gathered(stream_log.record_many)
                    kept = await self._gathered.keep(event)
                outcome = {"status": "kept" if kept else "skipped"}
            log.info("streamed event %s", outcome["status"], extra={"fields": outcome})
            return outcome

    def _check(self, envelope: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The event to keep, or (None, the outcome) when the message can never be kept: then it
        is dead-lettered here."""
        from shared.capabilities.crm.ingest import (
            PubSubMessage,
            dead_letter,
            message_from_cloud_event,
        )
        from shared.capabilities.realtime.hub import envelope_problem
        from shared.core.config import TOPIC_AI_EVENTS_DEAD_LETTER
        from shared.core.store.base import check_segment

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
            # Checked here, not in the batch: one bad event must not fail the others with it.
            check_segment(event["tenant_id"], field="tenant_id")
            check_segment(event["event_id"], field="event_id")
        except InvalidInput as exc:
            raw = json.dumps(envelope, default=str).encode()
            dead_letter(
                self._publisher(),
                TOPIC_AI_EVENTS_DEAD_LETTER,
                PubSubMessage(message_id, raw),
                exc,
            )
            return None, {"status": "dead_lettered", "reason": exc.message}
        return event, {}


async def _json_or_none(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None
