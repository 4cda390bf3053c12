"""Drive each real ``main.py`` through functions-framework's test client, on the emulators."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import functions_framework
import pytest

from devstack.procs import REPO
from devstack.units import functions, unit_env
from shared.core.config import get_settings
from shared.edge import services

if TYPE_CHECKING:
    from collections.abc import Iterator

    from devstack.stack import Stack


LOCAL_URL = "http://localhost"  # where functions-framework's test client sends requests


class UnitClient:
    """A function's test client that runs each request with exactly the settings
    terraform/units.json gives that unit (its identities, URLs and ``SERVICE_AUDIENCE``), as
    Terraform and scripts/up give them: a setting missing there fails here."""

    def __init__(self, name: str, client: Any, project: str) -> None:
        self._client = client
        urls = {unit: LOCAL_URL for unit in functions()}
        self._own = unit_env(name, project=project, urls=urls)
        self._all = {
            var for unit in functions() for var in unit_env(unit, project=project, urls=urls)
        }

    def without(self, var: str) -> UnitClient:
        """The same unit with one of its settings missing (as if units.json lacked it)."""
        other = UnitClient.__new__(UnitClient)
        other._client, other._all = self._client, self._all
        other._own = {k: v for k, v in self._own.items() if k != var}
        return other

    def open(self, *args: Any, **kwargs: Any) -> Any:
        for var in self._all:
            os.environ.pop(var, None)
        os.environ.update(self._own)
        get_settings.cache_clear()
        return self._client.open(*args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.open(*args, method="GET", **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> Any:
        return self.open(*args, method="POST", **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> Any:
        return self.open(*args, method="PUT", **kwargs)

    def patch(self, *args: Any, **kwargs: Any) -> Any:
        return self.open(*args, method="PATCH", **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self.open(*args, method="DELETE", **kwargs)


@pytest.fixture
def function_client(clean_firestore: Stack) -> Iterator[Any]:
    services.reset()
    saved = dict(os.environ)

    def _client(name: str, target: str) -> UnitClient:
        app = functions_framework.create_app(  # type: ignore[no-untyped-call]
            target=target, source=str(REPO / "functions" / name / "main.py")
        )
        return UnitClient(name, app.test_client(), clean_firestore.project)

    yield _client
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()


@pytest.fixture
def service_auth(clean_firestore: Stack) -> Any:
    """``service_auth("scheduler")``: the Authorization header Cloud Scheduler (``tasks``,
    ``pubsub_push``...) would attach for a function under test, from the local issuer."""

    def _auth(identity: str, audience: str = LOCAL_URL) -> dict[str, str]:
        return {"Authorization": "Bearer " + clean_firestore.service_token(identity, audience)}

    return _auth


def pull(project: str, subscription: str, expect: int = 1, timeout: float = 10.0) -> list[Any]:
    """Pull and acknowledge messages until ``expect`` arrived or ``timeout`` passed."""
    import time

    from google.api_core import exceptions as gexc
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

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

    for sub in (
        "ai-events-audit",
        "crm-events-dead-letter-inspect",
        "ai-events-dead-letter-inspect",
    ):
        pull(PROJECT, sub, expect=10_000, timeout=0.5)
