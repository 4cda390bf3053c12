"""The checkpointer under a real LangGraph graph, on the in-memory store and the Firestore
emulator: state past Firestore's document limit, values stored once per version, successful
nodes of a failed step not re-run, the fencing of two writers, TTL, and the env helper."""

from __future__ import annotations

import itertools
import operator
import os
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from shared.capabilities.workflows.checkpoint import FirestoreSaver, LeaseLost, saver_from_env
from shared.core.config import load_settings
from shared.core.store import MemoryStore
from shared.core.store.counting import CountingStore, pattern
from shared.core.store.firestore import FirestoreStore
from shared.core.store.optimistic import Versions

if TYPE_CHECKING:
    from shared.core.store import DocumentStore


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


@pytest.mark.parametrize("deferred", [False, True], ids=["immediate", "deferred"])
def test_ten_mebibytes_of_state_checkpoint_and_resume(store: DocumentStore, deferred: bool) -> None:
    saver = FirestoreSaver(store, root=f"langgraph/{uuid.uuid4().hex[:8]}", defer_writes=deferred)
    config = RunnableConfig(configurable={"thread_id": "big"})
    if deferred:
        config["configurable"] = {"thread_id": "big", "lease_token": saver.acquire_lease("big")}
    graph = _graph(saver)
    out = graph.invoke({"blob": "", "steps": [], "small": ""}, config)
    saver.flush(config)
    assert out["small"] == f"{10 * 1024 * 1024 + 7} bytes after 3 steps"
    # A fresh saver and graph (a new invocation of the runner) read it all back.
    saver = FirestoreSaver(store, root=saver._root)
    config = RunnableConfig(configurable={"thread_id": "big"})
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
    config = RunnableConfig(configurable={"thread_id": "retry"})
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


def test_deferred_a_failed_step_keeps_the_writes_of_nodes_that_succeeded(
    store: DocumentStore,
) -> None:
    """Deferred writes wait in memory; the caller flushes them when the stream fails."""
    root = f"langgraph/{uuid.uuid4().hex[:8]}"
    saver = FirestoreSaver(store, root=root, defer_writes=True)
    config = RunnableConfig(
        configurable={"thread_id": "retry", "lease_token": saver.acquire_lease("retry")}
    )
    failing = {"right"}
    graph = _graph(saver, fail_in=failing)
    with pytest.raises(RuntimeError, match="right failed once"):
        graph.invoke({"blob": "", "steps": [], "small": ""}, config)
    saver.flush(config)
    saver = FirestoreSaver(store, root=root, defer_writes=True)  # the next runner
    config = RunnableConfig(
        configurable={"thread_id": "retry", "lease_token": saver.acquire_lease("retry")}
    )
    resumed = _graph(saver, fail_in=failing)
    out = resumed.invoke(None, config)
    saver.flush(config)
    assert resumed.calls == ["right", "done"]
    assert sorted(out["steps"]) == ["grow", "left", "right"]


class Chain(TypedDict):
    steps: Annotated[list[str], operator.add]
    note: str


def test_deferred_a_step_is_one_transaction_with_the_callers_record(store: DocumentStore) -> None:
    """Each step's writes, its checkpoint and the caller's record are one commit; nothing is
    read back; a fresh saver reads the same state and pending writes."""
    counted = CountingStore(store)
    record = "records/run-1"
    store.set(record, {"steps": []})

    def on_commit(tx: Any, writes: list[tuple[str, str, Any]]) -> None:
        steps = [s for _, channel, value in writes if channel == "steps" for s in value]
        if steps:
            doc = tx.get(record) or {"steps": []}
            tx.set(record, {"steps": doc["steps"] + steps})

    root = f"langgraph/{uuid.uuid4().hex[:8]}"
    saver = FirestoreSaver(counted, root=root, defer_writes=True, on_commit=on_commit)
    g = StateGraph(Chain)
    names = ["a", "b", "c", "d"]
    for name in names:
        g.add_node(name, lambda state, name=name: {"steps": [name], "note": "x" * 100})
    g.add_edge(START, "a")
    for first, then in itertools.pairwise(names):
        g.add_edge(first, then)
    g.add_edge("d", END)
    graph = g.compile(checkpointer=saver)
    config = RunnableConfig(
        configurable={"thread_id": "t", "lease_token": saver.acquire_lease("t")}
    )
    counted.totals.clear()
    out = graph.invoke({"steps": [], "note": ""}, config, durability="sync")
    saver.flush(config)
    assert out["steps"] == names
    assert store.get(record) == {"steps": names}
    ops = counted.totals
    at = pattern(root)
    checkpoints = ops[("writes", f"{at}/checkpoints/{{}}")]
    assert checkpoints == 6  # the input, then one per step (a-d), then the last (no tasks)
    commits = sum(n for (kind, _), n in ops.items() if kind == "commits")
    assert commits == checkpoints  # one transaction per checkpoint, carrying the writes
    reads = {path: n for (kind, path), n in ops.items() if kind == "reads"}
    # Read: the lease (fencing) once per commit, the record when a step added to it; the first
    # get_tuple finds no checkpoint. Nothing the saver wrote is read back.
    assert reads == {f"{at}/threads/{{}}": commits, "records/{}": len(names)}
    assert ops[("queries", f"{at}/checkpoints/{{}}")] == 1
    fresh = FirestoreSaver(store, root=root)
    latest = fresh.get_tuple({"configurable": {"thread_id": "t"}})
    assert latest is not None and latest.checkpoint["channel_values"]["steps"] == names
    history = list(fresh.list({"configurable": {"thread_id": "t"}}))
    written = [w for t in history for w in t.pending_writes or [] if w[1] == "steps"]
    assert sorted(s for _, _, v in written for s in v) == names


def test_a_lease_kept_on_the_callers_document_fences_and_is_read_once(
    store: DocumentStore,
) -> None:
    """The runner keeps the token on the run document its hook reads anyway: each commit reads
    that document once, and a runner whose token was superseded writes nothing."""
    counted = CountingStore(store)
    run_doc = "runs/r1"
    store.set(run_doc, {"lease_token": 1, "seen": 0})

    def on_commit(tx: Any, writes: list[tuple[str, str, Any]]) -> None:
        doc = tx.get(run_doc) or {}
        tx.set(run_doc, {**doc, "seen": doc["seen"] + len(writes)})

    root = f"langgraph/{uuid.uuid4().hex[:8]}"

    def saver() -> FirestoreSaver:
        return FirestoreSaver(
            counted, root=root, defer_writes=True, on_commit=on_commit, lease_doc=run_doc
        )

    stale = {"configurable": {"thread_id": "t", "lease_token": 1}}
    store.set(run_doc, {"lease_token": 2, "seen": 0})  # another runner claimed the run
    with pytest.raises(LeaseLost):
        _graph(saver()).invoke({"blob": "", "steps": [], "small": ""}, stale)
    assert saver().get_tuple({"configurable": {"thread_id": "t"}}) is None
    assert store.get(run_doc) == {"lease_token": 2, "seen": 0}
    counted.totals.clear()
    current = {"configurable": {"thread_id": "t", "lease_token": 2}}
    out = _graph(saver()).invoke({"blob": "", "steps": [], "small": ""}, current)
    assert out["small"].endswith("bytes after 3 steps")
    commits = sum(n for (kind, _), n in counted.totals.items() if kind == "commits")
    assert counted.totals[("reads", "runs/{}")] == commits > 0
    assert store.get(run_doc)["seen"] > 0  # type: ignore[index]


def test_optimistic_commits_read_the_lease_once_and_still_fence(store: DocumentStore) -> None:
    """With the process's versions (the runner), a commit starts from the run document as the
    last commit left it: the first commit reads it, later ones read nothing, and a runner whose
    token another runner superseded since its last commit still writes nothing."""
    counted = CountingStore(store)
    run_doc = "runs/r2"
    store.set(run_doc, {"lease_token": 1, "seen": 0})
    known = Versions()

    def on_commit(tx: Any, writes: list[tuple[str, str, Any]]) -> None:
        doc = tx.get(run_doc) or {}
        tx.set(run_doc, {**doc, "seen": doc["seen"] + len(writes)})

    def saver() -> FirestoreSaver:
        return FirestoreSaver(
            counted,
            root="langgraph/optimistic",
            defer_writes=True,
            on_commit=on_commit,
            lease_doc=run_doc,
            versions=known,
        )

    mine = {"configurable": {"thread_id": "t", "lease_token": 1}}
    out = _graph(saver()).invoke({"blob": "", "steps": [], "small": ""}, mine)
    assert out["small"].endswith("bytes after 3 steps")
    assert counted.totals[("reads", "runs/{}")] == 1  # the first commit; the others remembered
    commits = sum(n for (kind, _), n in counted.totals.items() if kind == "commits")
    assert commits > 3  # a checkpoint each: one read for all of them
    assert commits == sum(n for (kind, _), n in counted.totals.items() if kind == "attempts")
    seen = store.get(run_doc)
    assert seen is not None and seen["seen"] > 0
    # Another runner claims the run; this process still remembers token 1 as current.
    store.set(run_doc, {**seen, "lease_token": 2})
    later = {"configurable": {"thread_id": "t2", "lease_token": 1}}
    with pytest.raises(LeaseLost):
        _graph(saver()).invoke({"blob": "", "steps": [], "small": ""}, later)
    assert store.get(run_doc) == {**seen, "lease_token": 2}
    assert saver().get_tuple({"configurable": {"thread_id": "t2"}}) is None


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
    config = RunnableConfig(configurable={"thread_id": "env"})
    _graph(saver).invoke({"blob": "", "steps": [], "small": ""}, config)
    assert saver.get_tuple(config) is not None
    with pytest.raises(ValueError, match="document path"):
        FirestoreSaver(saver._store, root="langgraph")
    assert os.environ["FIRESTORE_EMULATOR_HOST"]
