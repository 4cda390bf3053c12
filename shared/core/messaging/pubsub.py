"""Publishing to Pub/Sub, with ordering per tenant and entity.

:class:`PubSubPublisher` wraps the official client (imported lazily, built on first use);
:class:`MemoryPublisher` is the in-memory fake for unit tests. Both implement :class:`Publisher`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from typing_extensions import override

from shared.core import tracing
from shared.core.errors import TransientError

if TYPE_CHECKING:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    from shared.core.config import Settings


def ordering_key(tenant_id: str, entity_id: str) -> str:
    """Messages about one entity of one tenant are delivered in publish order."""
    return f"{tenant_id}:{entity_id}"


def encode(data: bytes | dict[str, Any]) -> bytes:
    """Message data as bytes: bytes as given, anything else as JSON."""
    return data if isinstance(data, bytes) else json.dumps(data, default=str).encode()


def traced(attributes: dict[str, str] | None) -> dict[str, str]:
    """``attributes`` with the current trace's ``traceparent`` (shared/core/tracing.py), so the
    subscriber's work joins the publisher's trace; one the caller set is kept."""
    return {**tracing.carrier(), **(attributes or {})}


Outgoing = tuple[bytes | dict[str, Any], str, dict[str, str]]  # data, ordering key, attributes


class Publisher(Protocol):
    """Publishes to Pub/Sub topics, with ordering keys and attributes (the trace travels in
    them)."""

    def publish(
        self,
        topic: str,
        data: bytes | dict[str, Any],
        *,
        ordering_key: str = "",
        attributes: dict[str, str] | None = None,
    ) -> str:
        """Publish one message and wait for the server's id.

        Raises:
            TransientError: Pub/Sub did not accept the message; the caller should fail so the
                work is retried.
        """
        ...

    def publish_many(self, topic: str, messages: list[Outgoing]) -> list[str]:
        """Publish several messages and wait for all of them.

        Raises:
            TransientError: any message was not accepted (the caller retries the whole unit).
        """
        ...


@dataclass
class PublishedMessage:
    """A message the in-memory publisher kept."""

    topic: str
    data: bytes
    ordering_key: str
    attributes: dict[str, str]
    message_id: str

    def json(self) -> Any:
        """The message's data parsed as JSON."""
        return json.loads(self.data)


@dataclass
class MemoryPublisher(Publisher):
    """Keeps published messages in memory for tests; ``fail_with`` makes every publish raise."""

    messages: list[PublishedMessage] = field(default_factory=list)
    fail_with: Exception | None = None

    @override
    def publish(
        self,
        topic: str,
        data: bytes | dict[str, Any],
        *,
        ordering_key: str = "",
        attributes: dict[str, str] | None = None,
    ) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        message_id = str(len(self.messages) + 1)
        self.messages.append(
            PublishedMessage(topic, encode(data), ordering_key, traced(attributes), message_id)
        )
        return message_id

    @override
    def publish_many(self, topic: str, messages: list[Outgoing]) -> list[str]:
        return [self.publish(topic, d, ordering_key=k, attributes=a) for d, k, a in messages]

    def on(self, topic: str) -> list[PublishedMessage]:
        """The messages published to ``topic``, in order."""
        return [m for m in self.messages if m.topic == topic]


class PubSubPublisher(Publisher):
    """Pub/Sub through the official client (the emulator locally).

    Every caller waits for its messages' ids, so each :meth:`publish_many` is one ``Publish``
    call carrying its messages in order, made on the caller's thread with the client's retry
    settings. The client's batching publisher would gather messages for a few milliseconds on
    a thread of its own, then commit each batch on a new thread, and sequence ordering keys:
    for callers that wait anyway that machinery was ~8 % of the workflow runner's CPU (a
    sampling profile of a burst) and added its window to every event's latency. Order holds as
    before: the messages of one call arrive in order, and a caller's next call starts after the
    server accepted this one.
    """

    def __init__(
        self,
        project_id: str,
        *,
        client: pubsub_v1.PublisherClient | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._project = project_id
        self._client = client
        self._timeout = timeout_seconds
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> PubSubPublisher:
        """The publisher for the configured project (pointed at the emulator when one is
        configured)."""
        if settings.pubsub_emulator_host:
            import os

            # The client finds the emulator only through this variable (see store/firestore.py).
            os.environ["PUBSUB_EMULATOR_HOST"] = settings.pubsub_emulator_host
        return cls(settings.project_id)

    def _get_client(self) -> pubsub_v1.PublisherClient:
        with self._lock:
            if self._client is None:
                from google.cloud import pubsub_v1  # type: ignore[attr-defined]

                self._client = pubsub_v1.PublisherClient()
            return self._client

    def topic_path(self, topic: str) -> str:
        """A topic's full resource name."""
        return f"projects/{self._project}/topics/{topic}"

    @override
    def publish(
        self,
        topic: str,
        data: bytes | dict[str, Any],
        *,
        ordering_key: str = "",
        attributes: dict[str, str] | None = None,
    ) -> str:
        return self.publish_many(topic, [(data, ordering_key, dict(attributes or {}))])[0]

    @override
    def publish_many(self, topic: str, messages: list[Outgoing]) -> list[str]:
        if not messages:
            return []
        from google.api_core import exceptions as gexc
        from google.pubsub_v1.services.publisher import PublisherClient as Generated

        client = self._get_client()
        request = {
            "topic": self.topic_path(topic),
            "messages": [
                {"data": encode(d), "ordering_key": k, "attributes": traced(a)}
                for d, k, a in messages
            ],
        }
        try:
            # The generated client's publish (the batching client overrides it): one RPC.
            answer = Generated.publish(client, request=request, timeout=self._timeout)
        except (gexc.GoogleAPICallError, gexc.RetryError) as exc:
            raise TransientError(f"publishing to {topic} failed: {exc}") from exc
        return [str(message_id) for message_id in answer.message_ids]
