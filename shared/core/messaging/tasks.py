"""Enqueuing named Cloud Tasks that call our HTTP targets with an OIDC token.

Task names make a duplicate enqueue harmless in the cloud (the second is refused), but the local
emulator accepts duplicates, so handlers must still be idempotent on their own (DESIGN.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from typing_extensions import override

from shared.core import tracing
from shared.core.errors import TransientError

if TYPE_CHECKING:
    from google.cloud import tasks_v2

    from shared.core.config import Settings

_TASK_NAME = re.compile(r"^[A-Za-z0-9_-]{1,500}$")


def task_id(name: str) -> str:
    """A valid task id for ``name``: itself when allowed, else a stable hash of it."""
    return name if _TASK_NAME.match(name) else hashlib.sha256(name.encode()).hexdigest()


class TaskQueue(Protocol):
    """Enqueues HTTP tasks (Cloud Tasks), optionally named so a duplicate is dropped, and
    delayed."""

    def enqueue(
        self,
        queue: str,
        url: str,
        payload: dict[str, Any],
        *,
        name: str | None = None,
        delay: timedelta | None = None,
    ) -> bool:
        """Enqueue an HTTP POST of ``payload`` to ``url``; False when ``name`` already exists.

        Raises:
            TransientError: Cloud Tasks refused or could not be reached; retry.
        """
        ...


@dataclass
class EnqueuedTask:
    """A task the in-memory queue kept."""

    queue: str
    url: str
    payload: dict[str, Any]
    name: str | None
    delay: timedelta | None


@dataclass
class MemoryTaskQueue(TaskQueue):
    """Keeps enqueued tasks in memory for tests, dropping a duplicate name as Cloud Tasks does."""

    tasks: list[EnqueuedTask] = field(default_factory=list)

    @override
    def enqueue(
        self,
        queue: str,
        url: str,
        payload: dict[str, Any],
        *,
        name: str | None = None,
        delay: timedelta | None = None,
    ) -> bool:
        if name is not None and any(t.queue == queue and t.name == name for t in self.tasks):
            return False
        self.tasks.append(EnqueuedTask(queue, url, payload, name, delay))
        return True


class CloudTasksQueue(TaskQueue):
    """Cloud Tasks through the official client (the emulator locally); each task carries an OIDC
    token for its target."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: tasks_v2.CloudTasksClient | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._lock = threading.Lock()

    def _get_client(self) -> tasks_v2.CloudTasksClient:
        with self._lock:
            if self._client is None:
                from google.cloud import tasks_v2

                host = self._settings.tasks_emulator_host
                if host:
                    import grpc
                    from google.cloud.tasks_v2.services.cloud_tasks.transports import (
                        CloudTasksGrpcTransport,
                    )

                    channel = grpc.insecure_channel(host)
                    self._client = tasks_v2.CloudTasksClient(
                        transport=CloudTasksGrpcTransport(channel=channel)
                    )
                else:
                    self._client = tasks_v2.CloudTasksClient()
            return self._client

    def queue_path(self, queue: str) -> str:
        """A queue's full resource name."""
        s = self._settings
        return f"projects/{s.project_id}/locations/{s.region}/queues/{queue}"

    @override
    def enqueue(
        self,
        queue: str,
        url: str,
        payload: dict[str, Any],
        *,
        name: str | None = None,
        delay: timedelta | None = None,
    ) -> bool:
        from google.api_core import exceptions as gexc
        from google.cloud import tasks_v2
        from google.protobuf import timestamp_pb2

        client = self._get_client()
        parent = self.queue_path(queue)
        http: dict[str, Any] = {
            "http_method": tasks_v2.HttpMethod.POST,
            "url": url,
            # The run's trace continues in the task's handler (shared/core/tracing.py).
            "headers": {"Content-Type": "application/json", **tracing.carrier()},
            "body": json.dumps(payload, default=str).encode(),
        }
        if self._settings.tasks_service_account:
            http["oidc_token"] = {
                "service_account_email": self._settings.tasks_service_account,
                "audience": url.split("?", 1)[0],
            }
        task: dict[str, Any] = {"http_request": http}
        if name is not None:
            task["name"] = f"{parent}/tasks/{task_id(name)}"
        if delay is not None:
            ts = timestamp_pb2.Timestamp()
            ts.FromDatetime(datetime.now(UTC) + delay)
            task["schedule_time"] = ts
        try:
            client.create_task(parent=parent, task=tasks_v2.Task(task))
        except gexc.AlreadyExists:
            return False
        except gexc.GoogleAPICallError as exc:
            raise TransientError(f"enqueuing a task on {queue} failed: {exc}") from exc
        return True
