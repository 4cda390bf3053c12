"""How a real-time instance receives ``ai-events``: its own Pub/Sub subscription.

A push subscription would hand each event to *one* instance, but every instance holds sockets
that may want it, so each instance creates a subscription of its own on start
(``ai-events-rt-<instance>``, filtered to the streamed event types, short retention), pulls it
with the official client's streaming pull, and deletes it on shutdown. An instance that dies
without deleting it leaves a subscription that Pub/Sub removes after a day without pulls (the
expiration policy; one day is Pub/Sub's minimum).

Messages are acknowledged once handed to the hub: the browser copy is best effort by design
(clients resync over REST); the durable copy of every event is on ``ai-events-audit``. A message
that is not an event envelope is counted and logged by the hub, then acknowledged: redelivering
it cannot make it readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from concurrent import futures
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.capabilities.realtime.hub import STREAMED
from shared.core.config import TOPIC_AI_EVENTS
from shared.core.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.core.config import Settings

log = get_logger(__name__)

ACK_DEADLINE_SECONDS = 10
RETENTION_SECONDS = 600
EXPIRY_SECONDS = 86_400


def subscription_filter() -> str:
    """Pub/Sub's filter for the streamed event types (the hub checks again)."""
    terms = [
        f'hasPrefix(attributes.event_type, "{p}")'
        if p.endswith(".")
        else f'attributes.event_type = "{p}"'
        for p in STREAMED
    ]
    return " OR ".join(terms)


class PubSubIntake:
    """Creates this instance's subscription, streams it into ``deliver`` on ``loop``."""

    def __init__(
        self,
        project_id: str,
        deliver: Callable[[Any], Any],
        *,
        topic: str = TOPIC_AI_EVENTS,
        instance: str | None = None,
    ) -> None:
        self._project = project_id
        self._deliver = deliver
        self._topic = f"projects/{project_id}/topics/{topic}"
        self.subscription = (
            f"projects/{project_id}/subscriptions/ai-events-rt-{instance or uuid.uuid4().hex[:12]}"
        )
        self._client: Any = None
        self._future: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.malformed = 0
        self.problem: str | None = None  # why events stopped flowing (the health check's 503)

    @classmethod
    def from_settings(cls, settings: Settings, deliver: Callable[[Any], Any]) -> PubSubIntake:
        """The intake for the configured project and ai-events topic (the emulator locally)."""
        if settings.pubsub_emulator_host:
            import os

            # The client finds the emulator only through this variable (as the publisher does).
            os.environ["PUBSUB_EMULATOR_HOST"] = settings.pubsub_emulator_host
        return cls(settings.project_id, deliver)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Create the subscription and start pulling.

        Raises:
            google.api_core.exceptions.GoogleAPICallError: Pub/Sub refused (the service fails to
                start and Cloud Run retries it).
        """
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self._loop = loop
        self._client = pubsub_v1.SubscriberClient()
        self._client.create_subscription(
            request={
                "name": self.subscription,
                "topic": self._topic,
                "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
                "message_retention_duration": {"seconds": RETENTION_SECONDS},
                "expiration_policy": {"ttl": {"seconds": EXPIRY_SECONDS}},
                "filter": subscription_filter(),
                "labels": {"purpose": "realtime-fanout"},
            }
        )
        self._future = self._client.subscribe(
            self.subscription,
            callback=self._on_message,
            flow_control=pubsub_v1.types.FlowControl(max_messages=1000),
        )
        self._future.add_done_callback(self._on_stream_end)
        log.info("real-time intake started", extra={"fields": {"subscription": self.subscription}})

    def _on_stream_end(self, future: Any) -> None:
        if self._stopping:
            return
        error = future.exception() if not future.cancelled() else None
        self.problem = f"the streaming pull of {self.subscription} ended: {error or 'cancelled'}"
        log.error(
            "real-time intake stopped; the health check now fails",
            extra={"fields": {"reason": self.problem}},
        )

    def _on_message(self, message: Any) -> None:
        # Runs on the client's callback threads: decode here, hand over to the loop.
        try:
            event: Any = json.loads(message.data)
        except (ValueError, UnicodeDecodeError) as exc:
            self.malformed += 1
            log.warning(
                "ai-event not streamed: not JSON (%s)",
                exc,
                extra={"fields": {"message_id": message.message_id}},
            )
        else:
            if self._loop is not None:
                published = getattr(message, "publish_time", None)
                self._loop.call_soon_threadsafe(self._deliver_observed, event, published)
        message.ack()

    def _deliver_observed(self, event: Any, published: datetime | None) -> None:
        """Deliver ``event`` and log one line for it (terraform/metrics.json: socket_delivery):
        the sockets it reached here and the time from its publication to its hand-over to them."""
        delivered = self._deliver(event)
        fields: dict[str, Any] = {"metric": "socket_delivery", "delivered": delivered}
        if isinstance(event, dict):
            fields["event_type"] = str(event.get("event_type", ""))[:80]
        if published is not None:
            age = datetime.now(UTC) - published.astimezone(UTC)
            fields["latency_ms"] = round(age.total_seconds() * 1000, 1)
        log.info("event handed to sockets", extra={"fields": fields})

    def stop(self) -> None:
        """Stop pulling and delete the subscription (best effort at shutdown: if Pub/Sub does
        not answer, the expiration policy removes it a day later, and that is logged)."""
        self._stopping = True
        if self._future is not None and not self._future.done():  # a failed one is in problem
            self._future.cancel()
            with contextlib.suppress(futures.CancelledError, futures.TimeoutError):
                self._future.result(timeout=10)  # ends with its cancellation
        if self._client is not None:
            from google.api_core import exceptions

            try:
                self._client.delete_subscription(request={"subscription": self.subscription})
            except exceptions.NotFound:
                pass  # already gone: nothing to clean up
            except exceptions.GoogleAPICallError as exc:
                log.warning(
                    "real-time subscription not deleted; it expires after a day unused",
                    extra={"fields": {"subscription": self.subscription, "error": str(exc)}},
                )
            self._client.close()
