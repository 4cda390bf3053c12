"""Real-time service benchmark (prints figures): sockets held by one instance, memory per socket,
and the delay from publishing on ai-events to the event arriving on every socket of its tenant,
through the Pub/Sub emulator and the service's own subscription.

    .venv/bin/python -m tests.bench.bench_realtime [sockets] [events] [path]

``path`` is ``/ws`` (default) or a product path that streams score changes (``/ws/ai/scoring``).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

TENANTS = 4


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _measure(url: str, tokens: list[str], sockets: int, events: int, publish: object) -> None:
    from websockets.asyncio.client import connect

    conns = []
    for i in range(sockets):
        ws = await connect(url, subprotocols=["bearer", tokens[i % TENANTS]], max_queue=None)  # type: ignore[list-item]
        await ws.recv()  # ready
        conns.append(ws)
    yield_point = asyncio.sleep(0)
    await yield_point
    delays: list[float] = []

    async def drain(ws: object, expect: int) -> None:
        for _ in range(expect):
            message = json.loads(await ws.recv())  # type: ignore[attr-defined]
            delays.append(time.time() - message["event"]["data"]["sent_at"])

    per_socket = events // TENANTS  # each event goes to one tenant's sockets
    readers = [asyncio.create_task(drain(ws, per_socket)) for ws in conns]
    start = time.perf_counter()
    for n in range(events):
        await asyncio.to_thread(publish, n)  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(*readers), timeout=120)
    elapsed = time.perf_counter() - start
    delays.sort()
    print(
        f"  {events} events x {sockets // TENANTS} sockets each = {len(delays)} deliveries in "
        f"{elapsed:.1f} s; publish -> socket median {statistics.median(delays) * 1000:.0f} ms, "
        f"p95 {delays[int(len(delays) * 0.95)] * 1000:.0f} ms"
    )
    for ws in conns:
        await ws.close()


def main() -> None:
    from devstack import emulators
    from devstack.procs import free_port, spawn, wait_until_ready
    from devstack.stack import VENV_BIN
    from devstack.tokens import ensure_keypair, mint_token
    from shared.core.config import TOPIC_AI_EVENTS, load_settings
    from shared.core.messaging.pubsub import PubSubPublisher

    sockets = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    path = sys.argv[3] if len(sys.argv) > 3 else "/ws"
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        private, public = ensure_keypair(state)
        pubsub = emulators.start_pubsub(free_port(), state / "logs")
        env = {
            "GOOGLE_CLOUD_PROJECT": "bench-rt",
            "PUBSUB_EMULATOR_HOST": pubsub.address,
            "AUTH_PUBLIC_KEY_FILE": str(public),
            "APP_ENV": "local",
            "LOG_LEVEL": "WARNING",
        }
        import os

        os.environ.update(env)
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        pubsub_v1.PublisherClient().create_topic(name=f"projects/bench-rt/topics/{TOPIC_AI_EVENTS}")
        port = free_port()
        service = spawn(
            "realtime",
            [str(VENV_BIN / "python"), "-m", "shared.edge.realtime", f"--port={port}"],
            port,
            state / "logs",
            env=env,
        )
        try:
            wait_until_ready(service, http_path="/health")
            idle = _rss_kib(service.popen.pid)
            tokens = [
                mint_token(private.read_text(), tenant_id=f"t{i}", roles=["viewer"])
                for i in range(TENANTS)
            ]
            publisher = PubSubPublisher.from_settings(load_settings(env))

            def publish(n: int) -> None:
                tenant = f"t{n % TENANTS}"
                publisher.publish(
                    TOPIC_AI_EVENTS,
                    {
                        "event_id": f"bench-{n}",
                        "event_type": "lead.score_changed",
                        "tenant_id": tenant,
                        "entity_type": "lead",
                        "entity_id": f"lead-{n}",
                        "data": {"score": n % 100, "sent_at": time.time()},
                    },
                    attributes={"tenant_id": tenant, "event_type": "lead.score_changed"},
                )

            url = service.url.replace("http://", "ws://") + path
            print(
                f"real-time service, one instance, {sockets} sockets on {path} over {TENANTS} "
                "tenants:"
            )

            async def run() -> None:
                task = asyncio.create_task(_measure(url, tokens, sockets, events, publish))
                while not task.done():
                    await asyncio.sleep(0.5)
                    held[0] = max(held[0], _rss_kib(service.popen.pid))
                await task

            held = [idle]
            asyncio.run(run())
            print(
                f"  memory: idle {idle / 1024:.0f} MiB, with the sockets {held[0] / 1024:.0f} MiB "
                f"= {(held[0] - idle) / sockets:.0f} KiB per socket"
            )
        finally:
            service.stop()
            pubsub.stop()


if __name__ == "__main__":
    main()
