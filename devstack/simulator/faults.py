"""Fault injection: queued per provider and model through the admin endpoint, or per request
through the ``x-sim-fault`` header (JSON). A fault may set:

- ``status`` (429, 500, 503, 529, ...) with ``retry_after`` seconds;
- ``context_length``: answer as the provider does when the prompt is too long;
- ``latency_ms`` (before answering) and ``ttft_ms`` (before the first streamed token);
- ``disconnect_after``: drop the connection after that many streamed chunks;
- ``invalid_json``: answer 200 with a body that is not JSON.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Queued:
    provider: str
    model: str
    fault: dict[str, Any]
    times: int


@dataclass
class FaultBook:
    queued: list[Queued] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, provider: str, model: str, fault: dict[str, Any], times: int) -> None:
        with self.lock:
            self.queued.append(Queued(provider, model, fault, times))

    def clear(self) -> None:
        with self.lock:
            self.queued.clear()
            self.config.clear()
            self.requests.clear()

    def take(self, provider: str, model: str, header: str | None) -> dict[str, Any]:
        """The fault for this request (the header wins), merged over the global config."""
        fault: dict[str, Any] = {
            k: v for k, v in self.config.items() if k in ("latency_ms", "ttft_ms", "chunk_ms")
        }
        if header:
            fault.update(json.loads(header))
            return fault
        with self.lock:
            for item in self.queued:
                if fnmatch.fnmatch(provider, item.provider) and fnmatch.fnmatch(model, item.model):
                    item.times -= 1
                    if item.times <= 0:
                        self.queued.remove(item)
                    fault.update(item.fault)
                    break
        return fault

    def context_window(self, model: str) -> int:
        windows: dict[str, int] = self.config.get("context_windows", {})
        for pattern, size in windows.items():
            if fnmatch.fnmatch(model, pattern):
                return int(size)
        return 1_000_000

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)
            del self.requests[:-200]
