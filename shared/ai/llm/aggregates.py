"""Daily usage aggregates, summed per instance and written under once a second (issue 19).

Every LLM call adds its figures (calls, tokens, cost, ... in total and by feature, model, CRM
object type and template) to the day's aggregates. Written per call, those documents were the
hottest of a workflow burst: 10 shards for a tenant at about 2 writes a second each with 12
calls a second (``tests/bench/bench_workflow_load.py``), 100 a second each at the 1,000 calls a
second the product promises, against Firestore's guidance of about one sustained write a second
per document.

So each process (a Cloud Run instance; a gunicorn worker locally) owns its shard of the day,
``tenants/{t}/llm_usage_daily/{day}/shards/{instance}``, and writes it at most once every
``interval_s``:

- the first call after a quiet interval is written at once, in the unit of work that made it
  (which waits for it before answering, as for its usage record);
- calls within the interval are summed in memory and written together when it ends, by a
  background thread; a failed write keeps its sums and is tried again an interval later.

One writer per shard and one write per interval: no shard takes more than ``1 / interval_s``
writes a second, whatever the tenant's rate; a tenant's day has one shard per instance that
served it (the usage API sums them; :meth:`UsageAggregates.pending` adds this process's unwritten
sums to its own reads).

What it costs, stated: the aggregates lag the calls by at most ``interval_s``. A process stopped
with SIGTERM (scale-in, redeploy) writes what it holds on exit; one killed outright loses its
last interval's sums from the aggregates, never the usage records (one document per call, written
before the unit answers), the ``llm-usage`` export to BigQuery or the budget's spending.
"""

from __future__ import annotations

import atexit
import math
import os
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from shared.core.log import get_logger
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.ai.llm.ledger import UsageRecord
    from shared.core.store.base import DocumentStore

_log = get_logger("llm.aggregates")
# Under Firestore's guidance of about one sustained write a second per document, with room for
# the jitter between deciding a write and making it (1.0 measured 1.1 a second in some 10 s).
INTERVAL_S = 1.25
Deltas = dict[tuple[str, ...], float]


def usage_deltas(record: UsageRecord, object_type: str) -> Deltas:
    """The increments one call makes to its day's aggregates."""
    values = {
        "calls": 1,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cached_input_tokens": record.cached_input_tokens,
        "cost_usd": record.cost_usd,
        "cache_hits": int(record.cache_hit),
        "errors": int(record.outcome != "ok"),
        "schema_invalid": int(record.schema_valid is False),
        "batch_calls": int(record.batch),
    }
    deltas: Deltas = {("total", k): v for k, v in values.items()}
    groups = {"by_feature": record.feature, "by_model": record.model, "by_object_type": object_type}
    if record.template_id:
        groups["by_template"] = f"{record.template_id}@v{record.template_version}"
    for group, key in groups.items():
        deltas.update({(group, key, k): v for k, v in values.items()})
    return deltas


def _add(into: Deltas, deltas: Deltas) -> None:
    for key, value in deltas.items():
        into[key] = into.get(key, 0) + value


class UsageAggregates:
    """This process's shards of the daily usage aggregates (module docstring)."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._interval = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, Deltas] = {}  # shard path -> sums not written yet
        self._last: dict[str, float] = {}  # shard path -> when it was last written
        self._writer: threading.Thread | None = None
        self._instance: tuple[int, str] | None = None
        atexit.register(self.write_all)

    def instance(self) -> str:
        """This process's shard id; a forked worker (gunicorn) gets its own."""
        pid = os.getpid()
        if self._instance is None or self._instance[0] != pid:
            self._instance = (pid, uuid.uuid4().hex[:16])
        return self._instance[1]

    def shards(self, tenant_id: str, day: str) -> str:
        """The collection of one tenant's per-instance usage shards for ``day`` (summed when
        read)."""
        return TenantStore(self._store, tenant_id).path("llm_usage_daily", day, "shards")

    def add(self, tenant_id: str, day: str, deltas: Deltas) -> None:
        """Add one call's ``deltas``: written now if this shard was not written within the
        interval, else with the interval's other calls.

        Raises:
            TransientError: the immediate write failed (its sums are kept and written later).
        """
        path = f"{self.shards(tenant_id, day)}/{self.instance()}"
        with self._lock:
            now = self._clock()
            if path in self._pending or now - self._last.get(path, -math.inf) < self._interval:
                _add(self._pending.setdefault(path, {}), deltas)
                self._start_writer()
                return
            self._last[path] = now
        try:
            self._store.increment(path, deltas)
        except Exception:
            with self._lock:
                _add(self._pending.setdefault(path, {}), deltas)
                self._start_writer()
            raise

    def pending(self, tenant_id: str, day: str) -> list[Deltas]:
        """The sums this process holds for a tenant's day and has not written yet."""
        prefix = self.shards(tenant_id, day) + "/"
        with self._lock:
            return [dict(d) for path, d in self._pending.items() if path.startswith(prefix)]

    def write_all(self) -> None:
        """Write every pending sum now (at exit; tests)."""
        with self._lock:
            batch, self._pending = self._pending, {}
        self._write(batch)

    def _start_writer(self) -> None:  # under self._lock
        if self._writer is None or not self._writer.is_alive():
            self._writer = threading.Thread(target=self._run, name="usage-aggregates", daemon=True)
            self._writer.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._writer = None
                    return
                now = self._clock()
                due = {
                    path: self._pending.pop(path)
                    for path in list(self._pending)
                    if now - self._last.get(path, -math.inf) >= self._interval
                }
                for path in due:
                    self._last[path] = now
                waits = [self._last[p] + self._interval - now for p in self._pending]
            self._write(due)
            if waits:
                time.sleep(max(min(waits), 0.01))

    def _write(self, batch: dict[str, Deltas]) -> None:
        for path, deltas in batch.items():
            try:
                self._store.increment(path, deltas)
            except Exception as exc:  # noqa: BLE001 - kept and tried again an interval later, never dropped
                _log.error("usage aggregates not written, kept for the next try: %s", exc)
                with self._lock:
                    _add(self._pending.setdefault(path, {}), deltas)
                    self._last[path] = self._clock()
                    self._start_writer()


def nested(deltas: Deltas) -> dict[str, Any]:
    """``{("total", "calls"): 2}`` -> ``{"total": {"calls": 2}}``, the stored shape."""
    out: dict[str, Any] = {}
    for key, value in deltas.items():
        node = out
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = node.get(key[-1], 0) + value
    return out
