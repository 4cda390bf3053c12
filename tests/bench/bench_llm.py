"""LLM layer benchmarks (run by ``scripts/bench``; prints figures, asserts nothing on time).

1. Router overhead per call over the raw provider call, both through the real OpenAI SDK against
   the simulator: the provider is wrapped in a timer, so overhead = router time - provider time.
   Also the same through LLMClient with an in-memory ledger and cache (guards, costing, records).
2. Time to fail over when the first provider answers 503 (default retry policy, and with one
   attempt per model).
3. Cache-hit latency on the Firestore emulator.
4. Cold import of the layer when no provider is used, next to each SDK.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from devstack.procs import REPO, simulator
from shared.ai.llm import CallContext, LLMClient, LLMRequest, Message
from shared.ai.llm.cache import ResponseCache
from shared.ai.llm.catalog import Catalog
from shared.ai.llm.ledger import Ledger
from shared.ai.llm.policy import PolicyStore
from shared.ai.llm.router import RetryPolicy, Router
from shared.core.store import MemoryStore
from tests.integration.llm.conftest import providers_for


class Timed:
    """Wraps a provider and adds up the time spent inside it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.spent = inner, inner.name, 0.0

    def complete(self, model: str, request: LLMRequest, *, timeout: float) -> Any:
        t0 = time.perf_counter()
        try:
            return self.inner.complete(model, request, timeout=timeout)
        finally:
            self.spent += time.perf_counter() - t0

    def stream(self, model: str, request: LLMRequest, *, timeout: float) -> Any:
        return self.inner.stream(model, request, timeout=timeout)

    def close(self) -> None:
        self.inner.close()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def request(i: int) -> LLMRequest:
    return LLMRequest(
        messages=[Message(role="user", content=f"Summarise account {i} renewal risk")],
        tier="balanced",
        model="gpt-4.1-mini",
        max_tokens=64,
    )


def bench_overhead(url: str, calls: int = 300) -> None:
    providers = providers_for(url)
    timed = Timed(providers["openai"])
    router = Router({**providers, "openai": timed}, Catalog.load())
    store = MemoryStore()
    client = LLMClient(
        router, ledger=Ledger(store), policies=PolicyStore(store), cache=ResponseCache(store)
    )
    for i in range(20):  # warm connections and code paths
        router.complete(request(i))
    router_overhead, client_overhead, raw = [], [], []
    for i in range(calls):
        timed.spent = 0.0
        t0 = time.perf_counter()
        router.complete(request(i))
        total = time.perf_counter() - t0
        raw.append(timed.spent * 1000)
        router_overhead.append((total - timed.spent) * 1000)
        timed.spent = 0.0
        t0 = time.perf_counter()
        client.complete(request(10_000 + i), CallContext(tenant_id="bench", feature="chat"))
        client_overhead.append((time.perf_counter() - t0 - timed.spent) * 1000)
    print(f"router overhead over the raw SDK call ({calls} calls, OpenAI SDK -> simulator):")
    print(
        f"  raw SDK call          median {statistics.median(raw):6.2f} ms  p95 {pct(raw, 95):6.2f} ms"
    )
    print(
        f"  Router                median {statistics.median(router_overhead):6.3f} ms  p95 {pct(router_overhead, 95):6.3f} ms"
    )
    print(
        f"  LLMClient (in-memory ledger, cache, guards, records)"
        f" median {statistics.median(client_overhead):6.3f} ms  p95 {pct(client_overhead, 95):6.3f} ms"
    )


def bench_failover(url: str, runs: int = 20) -> None:
    sim = httpx.Client(base_url=url)
    req = LLMRequest(
        messages=[Message(role="user", content="Churn risk for Acme?")], tier="best", max_tokens=64
    )
    for label, policy in (
        ("default policy (2 attempts, backoff)", RetryPolicy()),
        ("one attempt per model", RetryPolicy(attempts_per_model=1)),
    ):
        router = Router(providers_for(url), Catalog.load(), policy)
        router.complete(req)
        times = []
        for _ in range(runs):
            sim.post(
                "/_sim/faults",
                json={
                    "provider": "anthropic",
                    "fault": {"status": 503},
                    "times": policy.attempts_per_model,
                },
            )
            router.health = type(
                router.health
            )()  # fresh breaker: measure the failover, not the open circuit
            t0 = time.perf_counter()
            response = router.complete(req)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.model == "gpt-4.1"
        print(
            f"fail over after 503, {label}: median {statistics.median(times):.1f} ms  p95 {pct(times, 95):.1f} ms"
        )
    sim.delete("/_sim/faults")


def bench_cache(url: str, runs: int = 200) -> None:
    from devstack.stack import Stack
    from shared.core.config import load_settings
    from shared.core.store.firestore import FirestoreStore

    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            project="bench-llm", state_dir=Path(tmp), with_functions=False, with_gateway=False
        ).start()
        try:
            store = FirestoreStore.from_settings(load_settings(stack.env()))
            client = LLMClient(
                Router(providers_for(url), Catalog.load()), cache=ResponseCache(store)
            )
            ctx = CallContext(tenant_id="bench", feature="chat")
            # A whole answer (not cut at max_tokens) is cacheable.
            whole = request(1).model_copy(update={"max_tokens": 400})
            client.complete(whole, ctx)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                assert client.complete(whole, ctx).cache_hit
                times.append((time.perf_counter() - t0) * 1000)
            print(
                f"cache hit (Firestore emulator): median {statistics.median(times):.2f} ms  p95 {pct(times, 95):.2f} ms"
            )
        finally:
            stack.stop()


def cold_import_ms(code: str, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_imports() -> None:
    base = cold_import_ms("pass")
    layer = (
        "import shared.ai.llm, shared.ai.llm.router, shared.ai.llm.factory, shared.ai.llm.langchain"
    )
    print("cold import, median of 7, interpreter start subtracted:")
    for label, code in (
        ("LLM layer, no provider used (incl. langchain-core)", layer),
        (
            "LLM layer without the LangChain adapter",
            "import shared.ai.llm, shared.ai.llm.router, shared.ai.llm.factory",
        ),
        ("openai", "import openai"),
        ("anthropic", "import anthropic"),
        ("google.genai", "from google import genai"),
        (
            "local embedder: import, load the model, embed one text",
            "from shared.ai.embeddings.local import LocalOnnxEmbedder; LocalOnnxEmbedder().embed(['hello'])",
        ),
    ):
        print(f"  {label:52s} {cold_import_ms(code) - base:6.0f} ms")
    from shared.ai.embeddings.local import LocalOnnxEmbedder

    embedder = LocalOnnxEmbedder()
    embedder.embed(["warm up"])
    text = "Our team cannot log in since this morning; is there an outage?"
    t0 = time.perf_counter()
    for _ in range(200):
        embedder.embed([text])
    single = (time.perf_counter() - t0) / 200 * 1000
    t0 = time.perf_counter()
    embedder.embed([text] * 256)
    batched = (time.perf_counter() - t0) / 256 * 1000
    print(
        f"embedding a short text on one thread: {single:.1f} ms alone, {batched:.1f} ms each in batches of 32"
    )


def main() -> None:
    with simulator() as proc:
        bench_overhead(proc.url)
        bench_failover(proc.url)
        bench_cache(proc.url)
    bench_imports()


if __name__ == "__main__":
    main()
