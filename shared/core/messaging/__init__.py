"""Pub/Sub publishing and Cloud Tasks enqueuing, each with an in-memory fake."""

from shared.core.messaging.pubsub import MemoryPublisher, Publisher, PubSubPublisher, ordering_key
from shared.core.messaging.tasks import CloudTasksQueue, MemoryTaskQueue, TaskQueue, task_id

__all__ = [
    "CloudTasksQueue",
    "MemoryPublisher",
    "MemoryTaskQueue",
    "PubSubPublisher",
    "Publisher",
    "TaskQueue",
    "ordering_key",
    "task_id",
]
