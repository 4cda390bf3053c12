"""Many concurrent workflows on the local stack (run by ``scripts/bench``; prints figures).

``N`` lead_qualification runs (default 1,000; ``python -m tests.bench.bench_workflow_load 200``
for a quicker run) are started through the gateway at once (32 clients as fast as they can; with
``--rate=6`` instead six starts a second on a schedule, an open loop), after ``--warmup=100``
runs of another tenant (reported apart: the Java emulators of a fresh stack compile their hot
paths during the first hundred runs, which then cost twice the CPU), with the provider simulator
answering every call after 300 ms. Each run makes two model calls (lead analysis, decision), so
its pure model time is 0.6 s. Prints: API latency of the starts, time until the last run
completed and runs a second, orchestration overhead per run (its wall time minus its model time,
queueing included), CPU seconds per run of the Firestore emulator and of the workflow runner,
checkpoint documents and bytes per step, and the hottest documents (every write of every unit is
traced, ``STORE_WRITE_TRACE``). The runner serves as many slices at once as
Terraform's concurrency for it (terraform/units.json), as one Cloud Run instance does.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from devstack.stack import Stack
from devstack.tokens import mint_token
from shared.core.config import load_settings
from shared.core.store.counting import hottest, pattern
from shared.core.store.firestore import FirestoreStore

TENANT = "bench"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def machine_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop (the fastest of three): how fast the machine
    runs just now, to tell a slower machine from a slower change."""
    best = float("inf")
    for _ in range(3):
        began = time.process_time()
        total = 0
        for i in range(1_000_000):
            total += i * i % 7
        best = min(best, time.process_time() - began)
    return best * 1000


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    options = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
    rate = float(options["rate"]) if "rate" in options else None
    warmup = int(options.get("warmup", 100))
    n = int(args[0]) if args else 1000
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "writes"
        stack = Stack(
            project="bench-wf", state_dir=Path(tmp), extra_env={"STORE_WRITE_TRACE": str(trace)}
        ).start()
        try:
            if warmup:
                print("Warm-up, not the burst (a fresh stack's Java emulators compile as they go):")
                run(stack, warmup, tenant="warmup")
            before = machine_ms()
            run(stack, n, rate)
            print(
                f"  machine speed: a fixed Python loop took {before:.0f} ms before the burst and "
                f"{machine_ms():.0f} ms after (this machine's speed drifts by half; compare runs at "
                "like speeds)"
            )
            _print_hottest(trace)
        finally:
            stack.stop()


def run(stack: Stack, n: int, rate: float | None = None, tenant: str = TENANT) -> None:
    """``n`` runs started by 32 clients as fast as they can (a closed loop: each start waits for
    the one before it, so the start latency is the queue the burst builds), or with ``rate``
    starts a second arriving on a schedule whatever the answers (an open loop, as a CRM's
    users would start them). ``tenant``'s runs only are counted."""
    store = FirestoreStore.from_settings(load_settings(stack.env()))
    store.set(f"tenants/{tenant}", {"tenant_id": tenant})
    store.set_many(
        [
            (
                f"tenants/{tenant}/leads/lead-{i}",
                {"lead_id": f"lead-{i}", "name": f"Lead {i}", "title": "CTO", "source": "webinar"},
            )
            for i in range(n)
        ]
    )
    httpx.post(stack.procs["simulator"].url + "/_sim/config", json={"latency_ms": 300}, timeout=10)
    token = mint_token(
        stack.private_key.read_text(), tenant_id=tenant, roles=["rep"], ttl_seconds=7200
    )
    url = stack.procs["gateway"].url + "/api/v1/ai/workflows"
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []

    with httpx.Client(headers=headers, timeout=60) as client:

        def start(i: int) -> str:
            if rate:
                time.sleep(max(began + i / rate - time.perf_counter(), 0.0))
            t0 = time.perf_counter()
            res = client.post(url, json={"type": "lead_qualification", "lead_id": f"lead-{i}"})
            latencies.append((time.perf_counter() - t0) * 1000)
            res.raise_for_status()
            return str(res.json()["run_id"])

        cpu_before = {u: _cpu_seconds(proc.popen.pid) for u, proc in stack.procs.items()}
        began, began_wall = time.perf_counter(), time.time()
        with ThreadPoolExecutor(max_workers=32) as pool:
            run_ids = list(pool.map(start, range(n)))
        started_s = time.perf_counter() - began
        print(f"{n} lead_qualification runs, simulator 300 ms per call, 2 calls per run:")
        how = f"open loop, {rate:g} starts a second" if rate else "32 clients"
        print(
            f"  POST /api/v1/ai/workflows through the gateway: median {statistics.median(latencies):.0f} ms, "
            f"p95 {pct(latencies, 95):.0f} ms ({how}; all started in {started_s:.1f} s)"
        )
        done = _wait_for_runs(store, n, tenant)
        # Until the last run's own completion time, not the poll that saw it.
        last = max(_dt(doc["updated_at"]) for doc in done.values()).timestamp()
        total_s = last - began_wall
    cpu = {u: _cpu_seconds(stack.procs[u].popen.pid) - before for u, before in cpu_before.items()}
    statuses = [d["status"] for d in done.values()]
    print(
        f"  all {len(done)} finished ({statuses.count('completed')} completed, {statuses.count('failed')} failed) {total_s:.1f} s after the first start: "
        f"{len(done) / total_s:.2f} runs a second"
    )
    print(
        f"  CPU seconds per run, {sum(cpu.values()) / max(len(done), 1):.3f} in all: "
        + ", ".join(
            f"{u} {c / max(len(done), 1):.3f}"
            for u, c in sorted(cpu.items(), key=lambda kv: -kv[1])
            if c > 0.005 * len(done)
        )
    )
    overheads, models = [], []
    for doc in done.values():
        wall = (_dt(doc["updated_at"]) - _dt(doc["created_at"])).total_seconds() * 1000
        model = sum(a.get("latency_ms", 0.0) for a in doc["actions"])
        overheads.append(wall - model)
        models.append(model)
    print(
        f"  per run: model time median {statistics.median(models):.0f} ms; wall minus model time "
        f"(orchestration and queueing) median {statistics.median(overheads):.0f} ms, p95 {pct(overheads, 95):.0f} ms"
    )
    root = f"tenants/{tenant}/workflow_state/lg"
    docs = {name: store.query(f"{root}/{name}") for name in ("checkpoints", "blobs", "writes")}
    stored = sum(_bytes(d) for rows in docs.values() for _, d in rows)
    steps = sum(len(d["steps"]) for d in done.values())
    writes = sum(len(rows) for rows in docs.values())
    print(
        f"  checkpointing: {len(docs['checkpoints'])} checkpoints, {len(docs['blobs'])} blob versions, "
        f"{len(docs['writes'])} pending-writes documents for {steps} steps: {writes / steps:.1f} documents and "
        f"{stored / steps / 1024:.1f} KB per step"
    )
    _ = run_ids


def _print_hottest(trace: Path) -> None:
    rows = hottest(trace, window_s=10.0, top=12)
    print(
        "  hottest documents (most writes in any 10 s, as writes a second; all writes of the burst):"
    )
    for path, rate, total in rows:
        bounded = "  (a budget lease: bounded by design)" if "/llm_budget/" in path else ""
        print(f"    {rate:5.1f}/s {total:6d}  {pattern(path)}  e.g. {path}{bounded}")


def _wait_for_runs(store: FirestoreStore, n: int, tenant: str) -> dict[str, Any]:
    """Finished runs, polled by completion time from shortly before the last one seen (reading
    every finished run on each poll loaded the Firestore emulator the benchmark measures). The
    margin covers runs whose time was stamped before a later-stamped one was committed by
    another runner process."""
    done: dict[str, Any] = {}
    cursor: datetime | None = None
    deadline = time.monotonic() + 3600
    while len(done) < n and time.monotonic() < deadline:
        where: list[Any] = [("status", "in", ["completed", "failed"])]
        if cursor is not None:
            where.append(("updated_at", ">=", cursor - timedelta(seconds=30)))
        for run_id, doc in store.query(
            f"tenants/{tenant}/workflow_runs", where=where, order_by="updated_at"
        ):
            done[run_id] = doc
            cursor = max(cursor or _dt(doc["updated_at"]), _dt(doc["updated_at"]))
        time.sleep(3)
    return done


def _cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in the process group ``pgid``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat, after the command: the process group
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _bytes(value: Any) -> int:
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, dict):
        return sum(_bytes(v) for v in value.values())
    if isinstance(value, list):
        return sum(_bytes(v) for v in value)
    return 0


def _dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


if __name__ == "__main__":
    main()
