"""One suite for each messaging seam, on the in-memory fake and on the emulator: ``Publisher``
(``MemoryPublisher``, ``PubSubPublisher`` on the Pub/Sub emulator) and ``TaskQueue``
(``MemoryTaskQueue``, ``CloudTasksQueue`` on the Cloud Tasks emulator).

Where the emulator differs from the cloud the suite says so in the test: the Cloud Tasks emulator
accepts a second task with a name already used and delivers both, where Cloud Tasks refuses it
(``AlreadyExists``; our queue answers False). Handlers are idempotent for that reason."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from shared.core.config import QUEUE_WORKFLOWS_INTERACTIVE, load_settings
from shared.core.messaging.pubsub import MemoryPublisher, PubSubPublisher
from shared.core.messaging.tasks import CloudTasksQueue, MemoryTaskQueue

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from shared.core.messaging.pubsub import Publisher
    from shared.core.messaging.tasks import TaskQueue


@dataclass
class Seen:
    data: bytes
    ordering_key: str
    attributes: dict[str, str]
    message_id: str


@dataclass
class PublisherUnderTest:
    publisher: Publisher
    topic: str
    received: Callable[[int], list[Seen]]  # wait for that many messages, in publish order


@pytest.fixture(params=["memory", "pubsub-emulator"])
def publishing(request: pytest.FixtureRequest) -> Iterator[PublisherUnderTest]:
    topic = f"conformance-{uuid.uuid4().hex[:12]}"
    if request.param == "memory":
        memory = MemoryPublisher()

        def from_memory(count: int) -> list[Seen]:
            return [
                Seen(m.data, m.ordering_key, m.attributes, m.message_id) for m in memory.on(topic)
            ]

        yield PublisherUnderTest(memory, topic, from_memory)
        return
    stack = request.getfixturevalue("emulators")
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    settings = load_settings(stack.env())
    publisher = PubSubPublisher.from_settings(settings)
    admin, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic_path = admin.topic_path(settings.project_id, topic)
    sub_path = subscriber.subscription_path(settings.project_id, topic)
    admin.create_topic(name=topic_path)
    subscriber.create_subscription(
        request={"name": sub_path, "topic": topic_path, "enable_message_ordering": True}
    )

    def from_emulator(count: int) -> list[Seen]:
        got: dict[str, Seen] = {}
        deadline = time.monotonic() + 20
        while len(got) < count and time.monotonic() < deadline:
            answer = subscriber.pull(subscription=sub_path, max_messages=100, timeout=5)
            for m in answer.received_messages:
                got[m.message.message_id] = Seen(
                    m.message.data,
                    m.message.ordering_key,
                    dict(m.message.attributes),
                    m.message.message_id,
                )
            if answer.received_messages:
                subscriber.acknowledge(
                    subscription=sub_path, ack_ids=[m.ack_id for m in answer.received_messages]
                )
        return list(got.values())

    try:
        yield PublisherUnderTest(publisher, topic, from_emulator)
    finally:
        subscriber.delete_subscription(subscription=sub_path)
        admin.delete_topic(topic=topic_path)
        subscriber.close()


def test_a_published_message_arrives_with_its_key_and_attributes(
    publishing: PublisherUnderTest,
) -> None:
    message_id = publishing.publisher.publish(
        publishing.topic,
        {"event_id": "e-1", "tenant_id": "acme"},
        ordering_key="acme/lead-1",
        attributes={"tenant_id": "acme", "event_type": "lead.created"},
    )
    (seen,) = publishing.received(1)
    assert message_id and seen.message_id == message_id
    assert json.loads(seen.data) == {"event_id": "e-1", "tenant_id": "acme"}
    assert seen.ordering_key == "acme/lead-1"
    # Our attributes, plus the trace context the publisher adds when a trace is open.
    assert {k: v for k, v in seen.attributes.items() if k != "traceparent"} == {
        "tenant_id": "acme",
        "event_type": "lead.created",
    }


def test_bytes_are_sent_as_they_are(publishing: PublisherUnderTest) -> None:
    publishing.publisher.publish(publishing.topic, b"\x00raw\xff")
    (seen,) = publishing.received(1)
    assert seen.data == b"\x00raw\xff" and seen.ordering_key == ""


def test_publish_many_answers_one_id_per_message_in_order(
    publishing: PublisherUnderTest,
) -> None:
    outgoing = [({"n": n}, "acme/lead-1", {"n": str(n)}) for n in range(5)]
    ids = publishing.publisher.publish_many(publishing.topic, list(outgoing))
    assert len(ids) == 5 and len(set(ids)) == 5
    seen = {s.message_id: s for s in publishing.received(5)}
    assert [json.loads(seen[i].data)["n"] for i in ids] == [0, 1, 2, 3, 4]
    assert [seen[i].attributes["n"] for i in ids] == ["0", "1", "2", "3", "4"]


@dataclass
class Delivered:
    url: str
    payload: Any
    name: str | None


@dataclass
class QueueUnderTest:
    queue: TaskQueue
    url: str
    delivered: Callable[[int], list[Delivered]]  # wait for that many deliveries
    emulator: bool


@pytest.fixture(params=["memory", "tasks-emulator"])
def tasks(request: pytest.FixtureRequest) -> Iterator[QueueUnderTest]:
    if request.param == "memory":
        memory = MemoryTaskQueue()

        def from_memory(count: int) -> list[Delivered]:
            return [Delivered(t.url, t.payload, t.name) for t in memory.tasks]

        yield QueueUnderTest(memory, "http://target/run", from_memory, emulator=False)
        return
    stack = request.getfixturevalue("emulators")
    received: list[Delivered] = []
    arrived = threading.Condition()

    class Target(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with arrived:
                received.append(
                    Delivered(self.path, body, self.headers.get("X-CloudTasks-TaskName"))
                )
                arrived.notify_all()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    def from_emulator(count: int) -> list[Delivered]:
        with arrived:
            arrived.wait_for(lambda: len(received) >= count, timeout=20)
            return [Delivered(base + d.url, d.payload, d.name) for d in received]

    try:
        queue = CloudTasksQueue(load_settings(stack.env()))
        yield QueueUnderTest(queue, f"{base}/run", from_emulator, emulator=True)
    finally:
        server.shutdown()
        server.server_close()


def test_a_named_task_reaches_its_target_with_its_payload(tasks: QueueUnderTest) -> None:
    name = f"run-{uuid.uuid4().hex[:8]}-slice-1"
    assert tasks.queue.enqueue(QUEUE_WORKFLOWS_INTERACTIVE, tasks.url, {"run_id": "r1"}, name=name)
    (task,) = tasks.delivered(1)
    assert task.url == tasks.url and task.payload == {"run_id": "r1"} and task.name == name


def test_an_unnamed_task_is_always_accepted(tasks: QueueUnderTest) -> None:
    for n in range(2):
        assert tasks.queue.enqueue(QUEUE_WORKFLOWS_INTERACTIVE, tasks.url, {"n": n})
    assert sorted(t.payload["n"] for t in tasks.delivered(2)) == [0, 1]


def test_a_second_task_with_a_used_name(tasks: QueueUnderTest) -> None:
    # A name that is not a valid task id is hashed into one, the same way every time.
    name = f"run/{uuid.uuid4().hex[:8]}:slice 1"
    assert tasks.queue.enqueue(QUEUE_WORKFLOWS_INTERACTIVE, tasks.url, {"try": 1}, name=name)
    again = tasks.queue.enqueue(QUEUE_WORKFLOWS_INTERACTIVE, tasks.url, {"try": 2}, name=name)
    if tasks.emulator:
        # The emulator's documented difference: it accepts the duplicate and delivers both.
        assert again is True
        assert sorted(t.payload["try"] for t in tasks.delivered(2)) == [1, 2]
    else:
        # Cloud Tasks (and the fake) refuse it: the first task alone runs.
        assert again is False
        assert [t.payload["try"] for t in tasks.delivered(1)] == [1]
