"""LangGraph's own checkpointer conformance suite (``langgraph-checkpoint-conformance``), base and
extended capabilities, against our saver on the in-memory store and on the Firestore emulator,
and against LangGraph's ``InMemorySaver`` as the reference."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.report import ProgressCallbacks
from langgraph.checkpoint.memory import InMemorySaver

from shared.capabilities.workflows.checkpoint import FirestoreSaver

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from shared.core.store import DocumentStore


def test_the_official_conformance_suite_passes_in_full(backend: DocumentStore) -> None:
    @checkpointer_test(name=f"FirestoreSaver-{type(backend).__name__}")
    async def saver() -> AsyncIterator[FirestoreSaver]:
        yield FirestoreSaver(backend, root=f"langgraph/{uuid.uuid4().hex[:8]}")

    report = asyncio.run(validate(saver, progress=ProgressCallbacks.quiet()))
    report.print_report()
    assert report.passed_all_base()
    assert report.passed_all(), report.to_dict()  # extended: delete_for_runs, copy_thread, prune


def test_the_reference_in_memory_saver_passes_the_same_suite() -> None:
    @checkpointer_test(name="InMemorySaver")
    async def saver() -> AsyncIterator[InMemorySaver]:
        yield InMemorySaver()

    report = asyncio.run(validate(saver, progress=ProgressCallbacks.quiet()))
    assert report.passed_all(), report.to_dict()
