"""Checkpointer benchmarks on the Firestore emulator (run by ``scripts/bench``; prints figures).

1. put / get_tuple latency of our saver and of the community ``langgraph-checkpoint-firestore``
   (installed only for this comparison, if present), with the same small checkpoints.
2. A LangGraph graph of 10 steps whose state grows by 20 KB per step: documents and bytes
   written per step (our saver stores each channel version once).
3. A graph whose state reaches 10 MiB: checkpoint and resume time.

The 1,000-run burst through the workflow runner on the local stack is
``tests/bench/bench_workflow_load.py``.
"""

from __future__ import annotations

import operator
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig

from devstack.emulators import start_firestore
from devstack.procs import free_port
from shared.capabilities.workflows.checkpoint import FirestoreSaver
from shared.core.store.firestore import FirestoreStore

PROJECT = "bench-workflows"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _checkpoint(i: int) -> Any:
    from langgraph.checkpoint.base import empty_checkpoint

    cp = empty_checkpoint()
    cp["channel_values"] = {"messages": [f"message {n}" for n in range(i % 20)], "step": i}
    cp["channel_versions"] = {"messages": i + 1, "step": i + 1}
    return cp


def put_get(saver: Any, name: str, n: int = 200) -> None:
    thread = f"t-{uuid.uuid4().hex[:8]}"
    config: dict[str, Any] = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    puts, gets = [], []
    for i in range(n):
        cp = _checkpoint(i)
        t0 = time.perf_counter()
        config = saver.put(
            config, cp, {"source": "loop", "step": i}, {"messages": i + 1, "step": i + 1}
        )
        puts.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        got = saver.get_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
        gets.append((time.perf_counter() - t0) * 1000)
        assert got is not None
    print(
        f"  {name:<34} put median {statistics.median(puts):6.1f} ms p95 {pct(puts, 95):6.1f} ms | "
        f"get latest median {statistics.median(gets):6.1f} ms p95 {pct(gets, 95):6.1f} ms"
    )


class Growing(TypedDict):
    log: Annotated[list[str], operator.add]
    big: str


def growth(store: FirestoreStore) -> None:
    from langgraph.graph import END, START, StateGraph

    saver = FirestoreSaver(store, root=f"langgraph/{uuid.uuid4().hex[:8]}")
    g = StateGraph(Growing)
    for i in range(10):
        g.add_node(f"n{i}", lambda s, i=i: {"log": ["y" * 20_000]})
    g.add_edge(START, "n0")
    for i in range(9):
        g.add_edge(f"n{i}", f"n{i + 1}")
    g.add_edge("n9", END)
    graph = g.compile(checkpointer=saver)
    config = RunnableConfig(configurable={"thread_id": "grow"})
    graph.invoke({"log": [], "big": "z" * 300_000}, config)
    counts = {
        name: store.query(f"{saver._root}/{name}") for name in ("checkpoints", "blobs", "writes")
    }
    stored = sum(
        len(v)
        for docs in counts.values()
        for _, d in docs
        for v in d.values()
        if isinstance(v, bytes)
    )
    steps = len(counts["checkpoints"])
    print(
        f"  10-node graph, state +20 KB per step, a 300 KB field never changed: {steps} checkpoints, "
        f"{len(counts['blobs'])} blob versions, {len(counts['writes'])} writes; "
        f"{stored / 1024:.0f} KB stored in all ({stored / steps / 1024:.0f} KB per checkpoint; "
        f"copying the state into each checkpoint would store "
        f"{sum(300 + 20 * k for k in range(steps)) / steps:.0f} KB per checkpoint)"
    )


def big_state(store: FirestoreStore) -> None:
    from langgraph.graph import END, START, StateGraph

    class Big(TypedDict):
        blob: str

    saver = FirestoreSaver(store, root=f"langgraph/{uuid.uuid4().hex[:8]}")
    g = StateGraph(Big)
    g.add_node("grow", lambda s: {"blob": "x" * (10 * 1024 * 1024)})
    g.add_edge(START, "grow")
    g.add_edge("grow", END)
    graph = g.compile(checkpointer=saver)
    config = RunnableConfig(configurable={"thread_id": "big"})
    t0 = time.perf_counter()
    graph.invoke({"blob": ""}, config)
    run = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = graph.get_state(config)
    load = time.perf_counter() - t0
    assert len(state.values["blob"]) == 10 * 1024 * 1024
    print(f"  10 MiB state: run with checkpoints {run:.1f} s, resume (load) {load:.2f} s")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_firestore(port, Path(tmp))
        os.environ["FIRESTORE_EMULATOR_HOST"] = proc.address
        os.environ["GOOGLE_CLOUD_PROJECT"] = PROJECT
        try:
            from google.cloud import firestore

            store = FirestoreStore(firestore.Client(project=PROJECT))
            print("checkpoint put / get on the Firestore emulator (200 checkpoints, one thread):")
            put_get(
                FirestoreSaver(store, root="langgraph/bench"),
                "ours (shared.capabilities.workflows.checkpoint)",
            )
            try:
                from langgraph_checkpoint_firestore import (  # type: ignore[import-not-found]
                    FirestoreSaver as Community,
                )
            except ImportError:
                print(
                    "  community saver not installed (pip install langgraph-checkpoint-firestore==0.4.0)"
                )
            else:
                put_get(
                    Community(project_id=PROJECT, checkpoints_collection="community"),
                    "community 0.4.0",
                )
            growth(store)
            big_state(store)
        finally:
            proc.stop()


if __name__ == "__main__":
    main()
