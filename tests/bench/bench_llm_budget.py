"""The production LLM client through the Firestore ledger on the emulator, with and without a
tenant budget (issue 19 targets: overhead over the raw SDK <= 5 ms median; a tenant with a
budget reaches >= 90 % of the calls a second of one without). Prints figures.

The client is ``services.current().llm`` as a function builds it (Firestore ledger, policies,
caches; the OpenAI SDK against the local simulator). Every prompt differs, so no cache answers.
Also prints the budget document's writes per call (lease renewals) in the threaded phase.

    .venv/bin/python -m tests.bench.bench_llm_budget [CALLS]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devstack.stack import Stack
from shared.ai.llm import CallContext, LLMRequest, Message
from shared.ai.llm.policy import Limit, LLMPolicy
from shared.core.store.counting import CountingStore
from shared.edge import services

THREADS = 16


def _request() -> LLMRequest:
    return LLMRequest(
        messages=[Message(role="user", content=f"Summarise renewal risk {uuid.uuid4().hex}")],
        tier="balanced",
        model="gpt-4.1-mini",
        max_tokens=64,
    )


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            project="bench-budget", state_dir=Path(tmp), with_functions=False, with_gateway=False
        ).start()
        try:
            os.environ.update(stack.env())
            services.reset()
            run(calls)
        finally:
            services.reset()
            stack.stop()


def run(calls: int) -> None:
    from openai import OpenAI

    client = services.current().llm
    policies = services.current().policies
    policies.put("capped", LLMPolicy(budget=Limit(monthly_usd=1_000_000.0)))
    policies.put("free", LLMPolicy())
    raw = OpenAI(base_url=os.environ["LLM_SIMULATOR_URL"] + "/v1", api_key="sim", max_retries=0)

    def raw_call() -> float:
        t0 = time.perf_counter()
        raw.chat.completions.create(
            model="gpt-4.1-mini",
            messages=[{"role": "user", "content": f"Summarise renewal risk {uuid.uuid4().hex}"}],
            max_tokens=64,
        )
        return (time.perf_counter() - t0) * 1000

    def call(tenant: str) -> float:
        t0 = time.perf_counter()
        client.complete(_request(), CallContext(tenant_id=tenant, feature="chat"))
        return (time.perf_counter() - t0) * 1000

    def call_and_flush(tenant: str) -> float:  # a unit of work making one call
        t0 = time.perf_counter()
        client.complete(_request(), CallContext(tenant_id=tenant, feature="chat"))
        services.current().flush_writes()
        return (time.perf_counter() - t0) * 1000

    for _ in range(20):  # warm connections, imports, the leases
        raw_call()
        call("free")
        call("capped")
    services.current().flush_writes()
    sequential: dict[str, list[float]] = {
        "raw SDK": [],
        "free": [],
        "capped": [],
        "free, with the unit's flush": [],
        "capped, with the unit's flush": [],
    }
    for _ in range(calls):
        sequential["raw SDK"].append(raw_call())
        sequential["free"].append(call("free"))
        sequential["capped"].append(call("capped"))
        services.current().flush_writes()
        sequential["free, with the unit's flush"].append(call_and_flush("free"))
        sequential["capped, with the unit's flush"].append(call_and_flush("capped"))
    base = statistics.median(sequential["raw SDK"])
    print(f"one call at a time ({calls} each, OpenAI SDK -> simulator, Firestore emulator):")
    for name, values in sequential.items():
        median = statistics.median(values)
        extra = "" if name == "raw SDK" else f"  overhead {median - base:5.2f} ms"
        print(f"  {name:30s} median {median:6.2f} ms  p95 {_pct(values, 95):6.2f} ms{extra}")

    store = services.current().store
    counted = isinstance(store, CountingStore)
    rates = {}
    for tenant in ("free", "capped"):
        renewals = client.ledger.leases.renewals if client.ledger else 0
        t0 = time.perf_counter()
        with ThreadPoolExecutor(THREADS) as pool:
            latencies = list(pool.map(call, [tenant] * (calls * 2)))
        services.current().flush_writes()
        elapsed = time.perf_counter() - t0
        rates[tenant] = len(latencies) / elapsed
        writes = (client.ledger.leases.renewals if client.ledger else 0) - renewals
        print(
            f"  {THREADS} threads, {tenant:6s}: {rates[tenant]:6.1f} calls/s, "
            f"p95 {_pct(latencies, 95):6.1f} ms, budget document writes {writes} "
            f"for {len(latencies)} calls"
        )
    print(f"  with a budget / without: {rates['capped'] / rates['free'] * 100:5.1f} %")
    if counted:
        print("  (store counting on: figures include its overhead)")


if __name__ == "__main__":
    main()
