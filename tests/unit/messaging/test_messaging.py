from __future__ import annotations

from datetime import timedelta

from shared.core.messaging import MemoryPublisher, MemoryTaskQueue, ordering_key, task_id


def test_ordering_key_is_per_tenant_and_entity() -> None:
    assert ordering_key("acme", "lead-1") == "acme:lead-1"
    assert ordering_key("acme", "lead-1") != ordering_key("globex", "lead-1")


def test_memory_publisher_records_messages() -> None:
    pub = MemoryPublisher()
    pub.publish("ai-events", {"a": 1}, ordering_key="k", attributes={"x": "y"})
    [msg] = pub.on("ai-events")
    assert msg.json() == {"a": 1} and msg.attributes == {"x": "y"} and msg.ordering_key == "k"


def test_task_ids_are_valid_and_stable() -> None:
    assert task_id("run-1-slice-2") == "run-1-slice-2"
    odd = task_id("run/1 slice:2")
    assert odd == task_id("run/1 slice:2") and len(odd) == 64 and odd.isalnum()


def test_named_tasks_are_enqueued_once() -> None:
    queue = MemoryTaskQueue()
    assert queue.enqueue("q", "http://x/", {"a": 1}, name="n1", delay=timedelta(seconds=5))
    assert not queue.enqueue("q", "http://x/", {"a": 1}, name="n1")
    assert queue.enqueue("q", "http://x/", {"a": 1})
    assert len(queue.tasks) == 2
