"""Cloud Scheduler, locally: the frequent jobs Terraform declares, posted to the local functions
with a ``service:scheduler`` token. The nightly scoring jobs are left to be run by hand
(``scripts/token --role service:scheduler`` and a POST), as they take a while."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from devstack.tokens import mint_token

if TYPE_CHECKING:
    from devstack.stack import Stack

# (function, JSON body, period in seconds); the cloud runs the collector every 10 minutes, the
# insights refresh hourly and the re-embedding every 30 minutes.
JOBS = (
    ("llm_batch_jobs", b'{"job": "collect"}', 30.0),
    ("insights_jobs", b'{"job": "refresh"}', 120.0),
    ("insights_jobs", b'{"job": "reembed", "max_seconds": 60}', 120.0),
)
TICK = 30.0


class LocalScheduler:
    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)

    def start(self) -> LocalScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        private = (self._stack.state_dir / "jwt-private.pem").read_text()
        ticks = 0
        while not self._stop.wait(TICK):
            ticks += 1
            for function, body, period in JOBS:
                if ticks % max(1, round(period / TICK)):
                    continue
                url = self._stack.function_urls.get(function)
                if url is None:
                    continue
                token = mint_token(
                    private, tenant_id=None, roles=["service:scheduler"], subject="local-scheduler"
                )
                req = urllib.request.Request(  # noqa: S310 - loopback URL we built
                    url,
                    data=body,
                    method="POST",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                )
                try:
                    with urllib.request.urlopen(req, timeout=600):  # noqa: S310 - loopback URL we built
                        pass
                except (urllib.error.URLError, TimeoutError) as exc:
                    # Like Cloud Scheduler: the run failed, the next one tries again (logged by the function).
                    print(f"scheduler: {function} failed: {exc}", flush=True)
