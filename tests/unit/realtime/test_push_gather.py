"""The push endpoint writes the streamed events that arrive together in one batch, answers each
push with its own event's outcome, and raises a failed batch to every push in it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.capabilities.realtime.durable import StreamLog
from shared.capabilities.realtime.push import _Gathered
from shared.core.errors import TransientError
from shared.core.store import MemoryStore


def _event(event_id: str, tenant: str = "t1") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": "workflow.step_completed",
        "tenant_id": tenant,
        "data": {"run_id": "wf-1"},
    }


def test_events_arriving_together_are_kept_in_one_write_in_their_order() -> None:
    store = MemoryStore()
    log = StreamLog(store)
    writes: list[list[str]] = []

    def write(events: list[dict[str, Any]]) -> list[bool]:
        writes.append([e["event_id"] for e in events])
        return log.record_many(events)

    async def main() -> list[bool]:
        gathered = _Gathered(write)
        return list(
            await asyncio.gather(
                *(gathered.keep(_event(f"e{i}")) for i in range(5)), gathered.keep(_event("e0"))
            )
        )

    assert asyncio.run(main()) == [True, True, True, True, True, False]  # e0 again: a redelivery
    assert writes == [["e0", "e1", "e2", "e3", "e4", "e0"]]
    assert [e["event_id"] for e in log.after("t1", "e0") or []] == ["e1", "e2", "e3", "e4"]


def test_a_failed_batch_is_raised_to_every_push_in_it() -> None:
    def write(events: list[dict[str, Any]]) -> list[bool]:
        raise TransientError("firestore unavailable")

    async def main() -> list[Any]:
        gathered = _Gathered(write)
        return list(
            await asyncio.gather(
                gathered.keep(_event("a")), gathered.keep(_event("b")), return_exceptions=True
            )
        )

    outcomes = asyncio.run(main())
    assert all(isinstance(o, TransientError) for o in outcomes) and len(outcomes) == 2


def test_events_of_other_types_are_not_kept_but_do_not_stop_the_batch() -> None:
    log = StreamLog(MemoryStore())
    other = {**_event("x"), "event_type": "interaction.inbound_message"}
    assert log.record_many([other, _event("y")]) == [False, True]


@pytest.mark.parametrize("tenant", ["t1", "t2"])
def test_each_event_is_kept_under_its_own_tenant(tenant: str) -> None:
    store = MemoryStore()
    StreamLog(store).record_many([_event("e1", "t1"), _event("e1", "t2")])
    assert store.get(f"tenants/{tenant}/stream_events/e1") is not None
