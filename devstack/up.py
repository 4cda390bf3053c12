"""``scripts/up``: start the whole local stack, seed the demo tenant, serve until Ctrl-C."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from devstack.procs import REPO
from devstack.scheduler import LocalScheduler
from devstack.seed import DEMO_TENANT, seed_demo_tenant
from devstack.stack import Stack
from devstack.units import scheduled_jobs


def main() -> None:
    stack = Stack(project="crm-ai-local", state_dir=REPO / ".local", fixed_ports=True)
    stopping = threading.Event()
    # SIGINT too: a shell starts a background job with SIGINT ignored, and Ctrl-C or `kill -INT`
    # must still stop the stack.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    print("starting emulators, functions, real-time service and gateway ...", flush=True)
    stack.start()
    try:
        env_file = stack.state_dir / "stack.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in stack.env().items()))
        seeded = seed_demo_tenant(stack)
        scheduler = LocalScheduler(stack).start()
        gateway = stack.procs["gateway"]
        print(f"gateway: {gateway.url}")
        print(f"health: {gateway.url}/health")
        print(f"API docs: {gateway.url}/docs (OpenAPI 3.1: {gateway.url}/openapi.json)")
        for name, url in stack.function_urls.items():
            print(f"function {name}: {url}")
        print(f"console: {stack.procs['realtime'].url}/console/ (sign in with a demo role)")
        realtime = stack.procs["realtime"].url.replace("http://", "ws://")
        print(f"real-time WebSocket: {realtime}/ws (token as subprotocol: bearer, <JWT>)")
        print(f"llm simulator: {stack.procs['simulator'].url}")
        for name in ("firestore", "pubsub", "tasks", "bigquery"):
            print(f"emulator {name}: {stack.procs[name].address}")
        print(
            f"demo tenant: {DEMO_TENANT} ({seeded} records); token: ./scripts/token --tenant {DEMO_TENANT} --role admin"
        )
        print(f"logs: {Path(stack.state_dir, 'logs')}")
        for job in scheduled_jobs():
            every = job.local_every_seconds
            when = (
                f"every {every:.0f} s" if every else "by hand (scripts/token --service scheduler)"
            )
            print(f"scheduler: {job.name} -> {job.function} {json.dumps(job.body)} {when}")
        print(f"service-call token issuer (Google's part): {stack.issuer}", flush=True)
        print("press Ctrl-C to stop", flush=True)
        while not stopping.wait(1):
            # A crashed function is restarted, as the cloud replaces an instance; Pub/Sub and
            # Cloud Tasks deliver again what it had not acknowledged.
            for name in stack.supervise():
                print(f"restarted {name}: its process had exited; see its log", file=sys.stderr)
            dead = stack.dead_components()
            if dead:
                print(f"stopped unexpectedly: {', '.join(dead)}; see the logs", file=sys.stderr)
                break
        scheduler.stop()
    finally:
        # A second Ctrl-C (or SIGTERM) while stopping must not abandon the processes still
        # running: shutdown finishes first.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping ...", flush=True)
        stack.stop()
        (stack.state_dir / "stack.env").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
