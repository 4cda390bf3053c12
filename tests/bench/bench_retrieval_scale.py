"""Retrieval latency with many chunks in the Firestore emulator, and chat time to first token
(run by ``scripts/bench``; prints figures).

1. ``N`` chunks (default 20,000; ``python -m tests.bench.bench_retrieval_scale 100000`` for the
   issue's size, which takes over an hour on the emulator) with random unit vectors and words
   from a 5,000-word vocabulary are written to one tenant's knowledge base on the emulator; then
   10 hybrid searches (real query embedding, vector search, keyword candidates, fusion) give p50
   and p95.
2. Chat time to first token through ``start_chat`` against the simulator with a fixed 200 ms
   first-token delay: our overhead is the time to the first delta minus the provider's own.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from devstack.emulators import start_firestore
from devstack.procs import free_port, simulator
from shared.ai.embeddings.local import LocalOnnxEmbedder
from shared.capabilities.knowledge.index import ChunkIndex
from shared.core.store.base import Vector
from shared.core.store.firestore import FirestoreStore
from shared.core.tenancy.scope import TenantStore

PROJECT = "bench-retrieval"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fill(scope: TenantStore, n: int, model_id: str) -> float:
    rng = random.Random(7)
    vocab = [f"w{i:04d}" for i in range(5000)]
    t0 = time.perf_counter()
    batch = []
    for i in range(n):
        vec = [rng.gauss(0, 1) for _ in range(384)]
        norm = sum(v * v for v in vec) ** 0.5
        words = sorted(set(rng.choices(vocab, k=30)))
        batch.append(
            (
                scope.path("knowledge_chunks", f"d{i}-0"),
                {
                    "doc_id": f"d{i}",
                    "title": f"doc {i}",
                    "text": " ".join(words),
                    "embedding": Vector([v / norm for v in vec]),
                    "model_id": model_id,
                    "kw": dict.fromkeys(words, True),
                    "title_terms": [],
                    "source_type": "knowledge",
                    "date": "2026-11-01",
                },
            )
        )
        if len(batch) == 400:
            scope.set_many(batch)
            batch = []
    if batch:
        scope.set_many(batch)
    return time.perf_counter() - t0


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_firestore(port, Path(tmp))
        os.environ["FIRESTORE_EMULATOR_HOST"] = proc.address
        try:
            from google.cloud import firestore

            scope = TenantStore(FirestoreStore(firestore.Client(project=PROJECT)), "big")
            embedder = LocalOnnxEmbedder()
            took = fill(scope, n, embedder.model_id)
            print(
                f"{n} chunks written to the Firestore emulator in {took:.0f} s ({n / took:.0f} chunks/s)"
            )
            index = ChunkIndex(scope, embedder, "knowledge_chunks")
            index.search("warm up w0001")
            times = []
            for i in range(10):
                t0 = time.perf_counter()
                index.search(f"what about w{i:04d} and w{i + 100:04d} with w{i + 2000:04d}", k=5)
                times.append((time.perf_counter() - t0) * 1000)
            print(
                f"  hybrid search: median {statistics.median(times):.0f} ms, p95 {pct(times, 95):.0f} ms"
            )
        finally:
            proc.stop()
    chat_ttft()


def chat_ttft() -> None:
    import httpx

    from shared.ai.llm import LLMClient
    from shared.ai.llm.catalog import Catalog
    from shared.ai.llm.router import RetryPolicy, Router
    from shared.capabilities.insights.chat import start_chat
    from shared.core.store import MemoryStore
    from tests.integration.llm.conftest import providers_for

    with simulator() as sim:
        httpx.post(f"{sim.url}/_sim/config", json={"ttft_ms": 200}, timeout=5)
        client = LLMClient(
            Router(providers_for(sim.url), Catalog.load(), RetryPolicy(timeout_s=10))
        )
        scope = TenantStore(MemoryStore(), "chat")
        embedder = LocalOnnxEmbedder()
        embedder.embed(["warm up"])
        gaps = []
        for i in range(20):
            t0 = time.perf_counter()
            for event in start_chat(scope, client, embedder, "u", f"question {i} about refunds"):
                if event.startswith("event: delta"):
                    gaps.append((time.perf_counter() - t0) * 1000 - 200)
                    break
        print(
            f"chat time to first token over the provider's own 200 ms: median {statistics.median(gaps):.0f} ms, "
            f"p95 {pct(gaps, 95):.0f} ms (retrieval, prompt, guards, routing; in memory)"
        )
        client.router.close()


if __name__ == "__main__":
    main()
