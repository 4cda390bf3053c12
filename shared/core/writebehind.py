"""Writes done behind a unit of work's back (LLM usage records), waited for by that unit alone.

A unit of work (one HTTP request, one push, one task or scheduled job) opens
:func:`unit_of_work`; a write submitted inside it is :func:`track`-ed to it, and the unit's
:func:`wait` before it answers waits for its own writes only and raises the first that failed,
so the platform retries that unit. Another unit in the same process (a concurrent request on
another thread) neither waits for those writes nor inherits their failure. A unit that ends
without waiting (it failed first) still waits for its writes on the way out, so none is left to
a later unit, and logs any that failed: its own error already answers for it.

Outside any unit (scripts, benchmarks), writes are tracked per process, as before.
"""

from __future__ import annotations

import contextlib
import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING

from shared.core.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Iterator
    from concurrent.futures import Future

_log = get_logger("writebehind")
_unit: ContextVar[list[Future[None]] | None] = ContextVar("write_behind_unit", default=None)
_process: list[Future[None]] = []
_process_guard = threading.Lock()


@contextlib.contextmanager
def unit_of_work() -> Iterator[None]:
    """Scope the writes submitted inside to this unit (see the module docstring)."""
    token = _unit.set([])
    try:
        yield
    finally:
        left = _unit.get() or []
        _unit.reset(token)
        for future in left:
            exc = future.exception()  # waits: no write of this unit outlives it
            if exc is not None:
                _log.error("a write behind a failed unit of work was lost: %s", exc)


def track(future: Future[None]) -> None:
    """Make the current unit of work (or, outside one, the process) wait for ``future``."""
    pending = _unit.get()
    if pending is not None:
        pending.append(future)
        return
    future.add_done_callback(_log_failure)  # nobody may wait for it: say so when it fails
    with _process_guard:
        _process[:] = [f for f in _process if not f.done() or f.exception()]
        _process.append(future)


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        _log.error("a write behind (outside a unit of work) failed: %s", exc)


def wait() -> None:
    """Wait for the current unit's writes (outside a unit: every write tracked so far).

    Raises:
        the first write that failed (a transient error: the unit of work is retried).
    """
    pending = _unit.get()
    if pending is not None:
        taken = list(pending)
        pending.clear()
    else:
        with _process_guard:
            taken, _process[:] = list(_process), []
    failures = [exc for future in taken if (exc := future.exception()) is not None]
    if failures:
        raise failures[0]
