"""Drive each real ``main.py`` through functions-framework's test client, on the emulators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import functions_framework
import pytest

from devstack.procs import REPO
from shared import runtime

if TYPE_CHECKING:
    from devstack.stack import Stack


@pytest.fixture
def function_client(clean_firestore: Stack) -> Any:
    runtime.reset()

    def _client(name: str, target: str) -> Any:
        app = functions_framework.create_app(
            target=target, source=str(REPO / "functions" / name / "main.py")
        )
        return app.test_client()

    return _client


def pull(project: str, subscription: str, expect: int = 1, timeout: float = 10.0) -> list[Any]:
    """Pull and acknowledge messages until ``expect`` arrived or ``timeout`` passed."""
    import time

    from google.api_core import exceptions as gexc
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, subscription)
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expect and time.monotonic() < deadline:
            try:
                response = subscriber.pull(subscription=path, max_messages=100, timeout=1)
            except gexc.DeadlineExceeded:
                continue
            if response.received_messages:
                subscriber.acknowledge(
                    subscription=path, ack_ids=[m.ack_id for m in response.received_messages]
                )
                got += [m.message for m in response.received_messages]
        return got
    finally:
        subscriber.close()


@pytest.fixture(autouse=True)
def _drain_subscriptions(request: pytest.FixtureRequest) -> None:
    if "function_client" not in request.fixturenames:
        return
    from tests.conftest import PROJECT

    for sub in ("ai-events-audit", "crm-events-dead-letter-inspect"):
        pull(PROJECT, sub, expect=10_000, timeout=0.5)
