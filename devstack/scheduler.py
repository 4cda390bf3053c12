"""Cloud Scheduler, locally: the jobs ``terraform/units.json`` declares with a
``local_every_seconds``, posted to the local functions with the scheduler identity's OIDC token
(as Cloud Scheduler attaches one). The nightly scoring jobs are left to be run by hand
(``scripts/token --service scheduler --audience URL`` and a POST; see docs/development.md)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from devstack.units import scheduled_jobs

if TYPE_CHECKING:
    from devstack.stack import Stack

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
        jobs = [j for j in scheduled_jobs() if j.local_every_seconds]
        ticks = 0
        while not self._stop.wait(TICK):
            ticks += 1
            for job in jobs:
                if ticks % max(1, round(float(job.local_every_seconds or TICK) / TICK)):
                    continue
                function = job.function
                url = self._stack.function_urls.get(function)
                if url is None:
                    continue
                token = self._stack.service_token("scheduler", url)
                req = urllib.request.Request(  # noqa: S310 - loopback URL we built
                    url,
                    data=json.dumps(job.body).encode(),
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
                    if isinstance(exc, urllib.error.HTTPError):
                        exc.close()
                    # Like Cloud Scheduler: the run failed, the next one tries again (logged by the function).
                    print(f"scheduler: {function} failed: {exc}", flush=True)
