"""The checkpointer under a real LangGraph graph, on the in-memory store and the Firestore
emulator: state past Firestore's document limit, values stored once per version, successful
nodes of a failed step not re-run, the fencing of two writers, TTL, and the env helper."""

from __future__ import annotations

import operator
import os
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from shared.config import load_settings
from shared.store import MemoryStore
from shared.store.firestore import FirestoreStore
from shared.workflows.checkpoint import FirestoreSaver, LeaseLost, saver_from_env

if TYPE_CHECKING:
    from shared.store import DocumentStore


@pytest.fixture(params=["memory", "firestore"])
def store(request: pytest.FixtureRequest) -> DocumentStore:
    if request.param == "memory":
        return MemoryStore()
    request.getfixturevalue("clean_firestore")
    return FirestoreStore.from_settings(load_settings(os.environ))


class Big(TypedDict):
    blob: str
    steps: Annotated[list[str], operator.add]
    small: str


def _graph(saver: FirestoreSaver, fail_in: set[str] | None = None) -> Any:
    calls: list[str] = []

    def grow(state: Big) -> dict[str, Any]:
        calls.append("grow")
        return {"blob": "x" * (10 * 1024 * 1024 + 7), "steps": ["grow"]}

    def left(state: Big) -> dict[str, Any]:
        calls.append("left")
        return {"steps": ["left"]}

    def right(state: Big) -> dict[str, Any]:
        calls.append("right")
        if fail_in is not None and "right" in fail_in:
            fail_in.discard("right")
            raise RuntimeError("right failed once")
        return {"steps": ["right"]}

    def done(state: Big) -> dict[str, Any]:
        calls.append("done")
        return {"small": f"{len(state['blob'])} bytes after {len(state['steps'])} steps"}

    g = StateGraph(Big)
    g.add_node("grow", grow)
    g.add_node("left", left)
    g.add_node("right", right)
    g.add_node("done", done)
    g.add_edge(START, "grow")
    g.add_edge("grow", "left")
    g.add_edge("grow", "right")  # left and right run in one step
    g.add_edge(["left", "right"], "done")
    g.add_edge("done", END)
    graph = g.compile(checkpointer=saver)
    graph.calls = calls  # type: ignore[attr-defined]
    return graph


def test_ten_mebibytes_of_state_checkpoint_and_resume(store: DocumentStore) -> None:
    saver = FirestoreSaver(store, root=f"langgraph/{uuid.uuid4().hex[:8]}")
    config = {"configurable": {"thread_id": "big"}}
    graph = _graph(saver)
    out = graph.invoke({"blob": "", "steps": [], "small": ""}, config)
    assert out["small"] == f"{10 * 1024 * 1024 + 7} bytes after 3 steps"
    # A fresh graph (a new invocation of the runner) reads it all back.
    state = _graph(saver).get_state(config)
    assert len(state.values["blob"]) == 10 * 1024 * 1024 + 7
    assert sorted(state.values["steps"]) == ["grow", "left", "right"]
    # The 10 MiB value was stored once (chunked), not once per checkpoint.
    blobs = [d for _, d in store.query(f"{saver._root}/blobs") if d["channel"] == "blob"]
    chunked = [d for d in blobs if "chunks" in d]
    assert len(chunked) == 1 and chunked[0]["chunks"] == 12
    assert len(list(saver.list(config))) >= 4


def test_a_failed_step_keeps_the_writes_of_nodes_that_succeeded(store: DocumentStore) -> None:
    saver = FirestoreSaver(store, root=f"langgraph/{uuid.uuid4().hex[:8]}")
    config = {"configurable": {"thread_id": "retry"}}
    failing = {"right"}
    graph = _graph(saver, fail_in=failing)
    with pytest.raises(RuntimeError, match="right failed once"):
        graph.invoke({"blob": "", "steps": [], "small": ""}, config)
    assert graph.calls == ["grow", "left", "right"] or graph.calls == ["grow", "right", "left"]
    resumed = _graph(saver, fail_in=failing)
    out = resumed.invoke(None, config)
    # Only the failed node ran again: "left" succeeded and its write was read back.
    assert resumed.calls == ["right", "done"]
    assert sorted(out["steps"]) == ["grow", "left", "right"]


def test_two_writers_on_one_thread_one_wins(store: DocumentStore) -> None:
    saver = FirestoreSaver(store, root=f"langgraph/{uuid.uuid4().hex[:8]}")
    first = saver.acquire_lease("t1")
    second = saver.acquire_lease("t1")  # a duplicate task or a racing continue took over
    assert second == first + 1
    graph = _graph(saver)
    stale = {"configurable": {"thread_id": "t1", "lease_token": first}}
    with pytest.raises(LeaseLost):
        graph.invoke({"blob": "", "steps": [], "small": ""}, stale)
    assert saver.get_tuple({"configurable": {"thread_id": "t1"}}) is None  # nothing written
    current = {"configurable": {"thread_id": "t1", "lease_token": second}}
    assert (
        "bytes after 3 steps"
        in graph.invoke({"blob": "", "steps": [], "small": ""}, current)["small"]
    )


def test_documents_carry_an_expiry_for_the_ttl_policy(store: DocumentStore) -> None:
    saver = FirestoreSaver(store, root=f"langgraph/{uuid.uuid4().hex[:8]}", ttl=timedelta(days=30))
    _graph(saver).invoke(
        {"blob": "", "steps": [], "small": ""}, {"configurable": {"thread_id": "ttl"}}
    )
    for name in ("checkpoints", "blobs", "writes"):
        docs = store.query(f"{saver._root}/{name}")
        assert docs and all("expires_at" in d for _, d in docs), name


def test_saver_from_env_uses_the_emulator(clean_firestore: Any) -> None:
    saver = saver_from_env(root="langgraph/env")
    config = {"configurable": {"thread_id": "env"}}
    _graph(saver).invoke({"blob": "", "steps": [], "small": ""}, config)
    assert saver.get_tuple(config) is not None
    with pytest.raises(ValueError, match="document path"):
        FirestoreSaver(saver._store, root="langgraph")
    assert os.environ["FIRESTORE_EMULATOR_HOST"]
