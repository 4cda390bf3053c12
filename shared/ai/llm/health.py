"""Per provider-model health: a circuit breaker and an observed-latency average."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.core.log import get_logger

_log = get_logger("llm.health")


def _circuit(model: str, state: str) -> None:
    """A circuit's change of state (terraform/metrics.json: llm_circuit)."""
    fields = {"metric": "llm_circuit", "model": model, "state": state}
    _log.warning("circuit %s for %s", state, model, extra={"fields": fields})


@dataclass
class _State:
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False
    latency_ms: float | None = None


@dataclass
class HealthBoard:
    """Opens a model's circuit after ``threshold`` consecutive failures; after ``cooldown_s`` it lets
    one probe through (half-open): success closes it, failure opens it again."""

    threshold: int = 3
    cooldown_s: float = 30.0
    alpha: float = 0.2  # weight of the newest latency in the moving average
    clock: Callable[[], float] = time.monotonic
    _states: dict[str, _State] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _get(self, model: str) -> _State:
        return self._states.setdefault(model, _State())

    def allow(self, model: str) -> bool:
        """Whether a call may go to ``model`` now: yes while its circuit is closed, one probe after
        the cool-down once it opened."""
        with self._lock:
            state = self._get(model)
            if state.opened_at is None:
                return True
            if self.clock() - state.opened_at >= self.cooldown_s and not state.probing:
                state.probing = True
                return True
            return False

    def is_open(self, model: str) -> bool:
        """Whether ``model``'s circuit is open and still cooling down."""
        with self._lock:
            state = self._get(model)
            return state.opened_at is not None and self.clock() - state.opened_at < self.cooldown_s

    def success(self, model: str, latency_ms: float) -> None:
        """Record a successful call (closes an open circuit, updates the latency average)."""
        with self._lock:
            state = self._get(model)
            if state.opened_at is not None:
                _circuit(model, "closed")
            state.failures, state.opened_at, state.probing = 0, None, False
            prev = state.latency_ms
            state.latency_ms = (
                latency_ms if prev is None else prev + self.alpha * (latency_ms - prev)
            )

    def failure(self, model: str) -> None:
        """Record a failed call; enough in a row, or a failed probe, open the circuit."""
        with self._lock:
            state = self._get(model)
            state.failures += 1
            if state.probing or state.failures >= self.threshold:
                if state.opened_at is None or state.probing:
                    _circuit(model, "open")
                state.opened_at, state.probing = self.clock(), False

    def latency(self, model: str) -> float | None:
        """``model``'s recent latency average in ms (None before its first call): the fastest-first
        strategy reads it."""
        with self._lock:
            return self._get(model).latency_ms
