"""Foundation benchmarks (run by ``scripts/bench``; prints figures, asserts nothing on time).

1. Ingestion throughput: N CRM events published to ``crm-events`` on the Pub/Sub emulator, pushed
   to the crm_events function process, applied to the Firestore emulator; events/s from the first
   publish until the last record is readable.
2. Cold import time of each function's ``main.py`` next to a bare ``import functions_framework``
   (median of several fresh interpreters).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devstack.procs import REPO
from devstack.stack import Stack
from devstack.topology import discover_functions


def cold_import_ms(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_imports(runs: int) -> None:
    baseline = cold_import_ms("pass", runs)
    ff = cold_import_ms("import functions_framework", runs) - baseline
    print(f"cold import (median of {runs}, interpreter start {baseline:.0f} ms subtracted):")
    print(f"  import functions_framework        {ff:7.0f} ms")
    for spec in discover_functions():
        code = (
            "import importlib.util\n"
            f"s = importlib.util.spec_from_file_location('main', 'functions/{spec.name}/main.py')\n"
            "s.loader.exec_module(importlib.util.module_from_spec(s))"
        )
        ms = cold_import_ms(code, runs) - baseline
        print(
            f"  functions/{spec.name + '/main.py':24s} {ms:7.0f} ms  (+{ms - ff:.0f} ms over the framework)"
        )


def bench_ingestion(events: int) -> None:
    from concurrent.futures import wait

    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    from shared.core.config import TOPIC_CRM_EVENTS, load_settings
    from shared.core.store.firestore import FirestoreStore
    from tests.helpers import crm_event

    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(project="bench-project", state_dir=Path(tmp), with_gateway=False).start()
        try:
            settings = load_settings(stack.env())
            store = FirestoreStore.from_settings(settings)
            publisher = pubsub_v1.PublisherClient()
            topic = publisher.topic_path(settings.project_id, TOPIC_CRM_EVENTS)
            import json

            payloads = [
                json.dumps(
                    crm_event(tenant_id=f"t{i % 10}", entity_id=f"lead-{i}", event_id=f"e{i}")
                ).encode()
                for i in range(events)
            ]
            paths = [f"tenants/t{i % 10}/leads/lead-{i}" for i in range(events)]
            start = time.perf_counter()
            wait([publisher.publish(topic, p) for p in payloads])
            published = time.perf_counter() - start
            remaining = list(paths)
            while remaining:
                found = store.get_many(remaining[:300])
                remaining = [
                    p for p, d in zip(remaining[:300], found, strict=True) if d is None
                ] + remaining[300:]
                if remaining:
                    time.sleep(0.05)
                if time.perf_counter() - start > 600:
                    raise TimeoutError(f"{len(remaining)} events not applied after 600 s")
            elapsed = time.perf_counter() - start
            print(f"ingestion: {events} events through Pub/Sub push -> crm_events -> Firestore")
            print(f"  published in {published:.2f} s; all applied after {elapsed:.2f} s")
            print(
                f"  throughput {events / elapsed:.0f} events/s (one function process, emulators, 2 cores)"
            )
        finally:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--import-runs", type=int, default=7)
    args = parser.parse_args()
    bench_imports(args.import_runs)
    bench_ingestion(args.events)


if __name__ == "__main__":
    main()
