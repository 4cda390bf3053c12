"""The real-time intake on the Pub/Sub emulator: its own filtered subscription, events handed to
the loop, malformed messages counted, the subscription deleted on stop, and a stream that dies
reported (the service's health check then fails)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from shared.capabilities.realtime.intake import PubSubIntake
from shared.core.config import TOPIC_AI_EVENTS, load_settings
from shared.core.messaging.pubsub import PubSubPublisher

if TYPE_CHECKING:
    from devstack.stack import Stack


def _until(check: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_the_intake_streams_its_own_subscription_and_cleans_up(emulators: Stack) -> None:
    from google.api_core import exceptions
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    settings = load_settings(emulators.env())
    publisher = PubSubPublisher.from_settings(settings)
    received: list[Any] = []
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    intake = PubSubIntake.from_settings(settings, received.append)
    subscriber = pubsub_v1.SubscriberClient()
    try:
        intake.start(loop)
        sub = subscriber.get_subscription(request={"subscription": intake.subscription})
        assert "hasPrefix(attributes.event_type" in sub.filter
        assert sub.expiration_policy.ttl.total_seconds() == 86_400
        for n, kind in enumerate(["lead.score_changed", "lead.scoring_requested"]):
            publisher.publish(
                TOPIC_AI_EVENTS,
                {"event_id": f"i{n}", "event_type": kind, "tenant_id": "acme"},
                attributes={"tenant_id": "acme", "event_type": kind},
            )
        publisher.publish(
            TOPIC_AI_EVENTS, b"{broken", attributes={"event_type": "lead.score_changed"}
        )
        _until(lambda: len(received) >= 1 and intake.malformed == 1)
        # The emulator does not apply subscription filters (real Pub/Sub does); the hub drops
        # types that are never streamed either way (tests/unit/realtime).
        assert "i0" in [e["event_id"] for e in received]
        # Someone deletes the subscription under a running instance: the stream ends, and
        # the intake says why.
        subscriber.delete_subscription(request={"subscription": intake.subscription})
        _until(lambda: intake.problem is not None, timeout=60)
        assert intake.subscription in (intake.problem or "")
    finally:
        intake.stop()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
    # A clean stop deletes the subscription.
    second = PubSubIntake.from_settings(settings, received.append)
    second.start(loop := asyncio.new_event_loop())
    second.stop()
    loop.close()
    assert second.problem is None
    with pytest.raises(exceptions.NotFound):
        subscriber.get_subscription(request={"subscription": second.subscription})
