"""The usage ledger: budgets reserved before a call and settled after it, a usage record per
call, and aggregates for reporting.

Budget state for a month is one document, ``tenants/{t}/llm_budget/{YYYY-MM}``, changed only in
transactions. A call reserves its worst-case cost (prompt estimate + max_tokens) from its
process's lease, a slice of the budget held on that document and renewed now and then
(``shared/ai/llm/leases.py``: the bounds are written there); a batch job reserves on the document
itself (``reserve`` without ``leased``) and ``settle`` swaps the reservation for the real cost.
Either way, spending exceeds a limit only by what real costs exceed their reservations.
Threshold alerts (50/80/100 %) are recorded in the same document, so each fires once.

Aggregates are counters with one shard per instance, written at most every 1.25 s
(``shared/ai/llm/aggregates.py``): usage writes are hot, and Firestore sustains about one write a
second per document.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.ai.llm.aggregates import UsageAggregates, nested, usage_deltas
from shared.ai.llm.errors import BudgetExceeded
from shared.ai.llm.leases import BudgetLeases, apply_deltas, shift_budget
from shared.core import writebehind
from shared.core.config import TOPIC_AI_EVENTS, TOPIC_LLM_USAGE
from shared.core.errors import InvalidInput
from shared.core.log import get_logger
from shared.core.messaging.pubsub import ordering_key
from shared.core.store.base import check_segment
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.ai.llm.policy import Limit, LLMPolicy
    from shared.core.messaging.pubsub import Publisher
    from shared.core.store.base import DocumentStore

_log = get_logger("llm.ledger")
BUDGET_THRESHOLD = "llm.budget_threshold_reached"


class UsageRecord(BaseModel):
    """One LLM call's usage and cost, attributed to a tenant, feature, CRM object and template
    version."""

    call_id: str
    tenant_id: str
    feature: str
    crm_object: str | None = None  # "lead:lead-1", "customer:c-9", "workflow_run:r-3"
    template_id: str | None = None
    template_version: str | None = None
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost_usd: float
    latency_ms: float
    cache_hit: bool
    outcome: str  # ok | error | budget_exceeded | rejected
    attempts: int = 1
    schema_valid: bool | None = None
    batch: bool = False
    at: datetime


@dataclass(frozen=True)
class Reservation:
    """The worst-case cost held against a tenant's budget while a call runs, settled with the real
    cost after it."""

    tenant_id: str
    feature: str
    period: str
    tokens: int
    usd: float
    active: bool  # False when the tenant has no limits (nothing was reserved)
    lease: str | None = None  # taken from this process's lease (shared/ai/llm/leases.py)


def _period(now: datetime) -> str:
    return now.strftime("%Y-%m")


class Ledger:
    """Tenant budgets and usage: reserves a call's worst case before it runs (so concurrent calls
    cannot overspend beyond a bound), settles the real cost after, and records usage per call and
    per day, written behind the call."""

    def __init__(
        self,
        store: DocumentStore,
        publisher: Publisher | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        write_behind: bool = False,
    ) -> None:
        """``write_behind``: a call's usage record and aggregates are written by a worker thread
        while the caller goes on (about 6 ms of Firestore round trips off each call); the unit of
        work waits for them before it answers (:meth:`flush`, run by the entry points)."""
        self._store = store
        self._publisher = publisher
        self._clock = clock
        # One budget document takes every reservation of a tenant's month; calls in this process
        # take turns on it instead of colliding in Firestore transactions.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.leases = BudgetLeases(store, self._alert, clock)
        self._behind = ThreadPoolExecutor(4, "usage-writes") if write_behind else None
        self.aggregates = UsageAggregates(store)

    def _lock(self, path: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(path, threading.Lock())

    def _budget_path(self, scope: TenantStore, period: str) -> str:
        return scope.path("llm_budget", period)

    # --- budgets --------------------------------------------------------------------------------
    def reserve(
        self,
        tenant_id: str,
        feature: str,
        policy: LLMPolicy,
        tokens: int,
        usd: float,
        *,
        leased: bool = False,
    ) -> Reservation:
        """Reserve ``tokens`` and ``usd`` against the tenant's monthly limits: from this process's
        lease when ``leased`` (a call: no shared document touched), else on the budget document
        (a batch job, settled later by another process).

        Raises:
            BudgetExceeded: the reservation would cross a limit; the message says which.
        """
        period = _period(self._clock())
        if not policy.has_limits:
            return Reservation(tenant_id, feature, period, tokens, usd, active=False)
        if leased:
            ref = self.leases.reserve(tenant_id, period, feature, policy, tokens, usd)
            return Reservation(tenant_id, feature, period, tokens, usd, active=True, lease=ref)
        scope = TenantStore(self._store, tenant_id)
        path = self._budget_path(scope, period)

        def _reserve(tx: Any) -> None:
            doc = tx.get(path) or {}
            checks: list[tuple[str, Limit, dict[str, Any]]] = [
                ("monthly", policy.budget, doc.get("total", {}))
            ]
            if feature in policy.feature_budgets:
                checks.append(
                    (
                        f"{feature}",
                        policy.feature_budgets[feature],
                        doc.get("features", {}).get(feature, {}),
                    )
                )
            for name, limit, used in checks:
                spent_usd = used.get("spent_usd", 0.0) + used.get("reserved_usd", 0.0)
                spent_tokens = used.get("spent_tokens", 0) + used.get("reserved_tokens", 0)
                if limit.monthly_usd is not None and spent_usd + usd > limit.monthly_usd:
                    raise BudgetExceeded(
                        f"the {name} budget of ${limit.monthly_usd:.2f} for {period} cannot cover this call "
                        f"(${spent_usd:.4f} used or reserved, ${usd:.4f} needed)",
                        field="budget",
                    )
                if (
                    limit.monthly_tokens is not None
                    and spent_tokens + tokens > limit.monthly_tokens
                ):
                    raise BudgetExceeded(
                        f"the {name} budget of {limit.monthly_tokens} tokens for {period} cannot cover this call "
                        f"({spent_tokens} used or reserved, {tokens} needed)",
                        field="budget",
                    )
            tx.set(path, apply_deltas(doc, feature, reserved_usd=usd, reserved_tokens=tokens))

        with self._lock(path):
            scope.run_transaction(_reserve)
        return Reservation(tenant_id, feature, period, tokens, usd, active=True)

    def settle(
        self,
        reservation: Reservation,
        policy: LLMPolicy,
        tokens: int,
        usd: float,
        *,
        once: Callable[[Any], bool] | None = None,
    ) -> None:
        """Replace the reservation with the real cost (zero for a call that never ran).

        ``once(tx)``, when given, runs first in the same transaction and returns False when this
        settlement already happened (a retried batch job), so it is applied exactly once.
        """
        if not reservation.active:
            if once is not None:
                TenantStore(self._store, reservation.tenant_id).run_transaction(once)
            return
        lease, r = reservation.lease, reservation
        if lease is not None:
            if once is not None:
                raise ValueError("a leased reservation cannot be settled with `once`")
            self.leases.settle(
                r.tenant_id, r.period, r.feature, lease, (r.tokens, r.usd), (tokens, usd)
            )
            return
        scope = TenantStore(self._store, reservation.tenant_id)
        path = self._budget_path(scope, reservation.period)
        crossed: list[int] = []

        def _settle(tx: Any) -> None:
            crossed.clear()
            doc = tx.get(path) or {}
            # After the budget read, before any write: Firestore transactions read first.
            if once is not None and not once(tx):
                return
            doc = apply_deltas(
                doc,
                reservation.feature,
                reserved_usd=-reservation.usd,
                reserved_tokens=-reservation.tokens,
                spent_usd=usd,
                spent_tokens=tokens,
            )
            crossed.clear()
            used = doc.get("total", {})
            fraction = max(
                used.get("spent_usd", 0.0) / policy.budget.monthly_usd
                if policy.budget.monthly_usd
                else 0.0,
                used.get("spent_tokens", 0) / policy.budget.monthly_tokens
                if policy.budget.monthly_tokens
                else 0.0,
            )
            sent = set(doc.get("alerts_sent", []))
            for threshold in policy.alert_thresholds:
                if fraction * 100 >= threshold and threshold not in sent:
                    crossed.append(threshold)
            doc["alerts_sent"] = sorted(sent | set(crossed))
            tx.set(path, doc)

        with self._lock(path):
            scope.run_transaction(_settle)
        for threshold in crossed:
            self._alert(reservation.tenant_id, reservation.period, threshold)

    def _alert(self, tenant_id: str, period: str, threshold: int) -> None:
        _log.warning(
            "LLM budget threshold reached",
            extra={
                "fields": {
                    "metric": "llm_budget_threshold",
                    "tenant_id": tenant_id,
                    "threshold_percent": threshold,
                    "period": period,
                }
            },
        )
        if self._publisher is not None:
            event_id = f"budget-{tenant_id}-{period}-{threshold}"
            self._publisher.publish(
                TOPIC_AI_EVENTS,
                {
                    "event_id": event_id,
                    "event_type": BUDGET_THRESHOLD,
                    "tenant_id": tenant_id,
                    "entity_type": "budget",
                    "entity_id": period,
                    "data": {"threshold_percent": threshold},
                },
                ordering_key=ordering_key(tenant_id, "budget"),
                attributes={"tenant_id": tenant_id, "event_type": BUDGET_THRESHOLD},
            )

    def budget_state(self, tenant_id: str) -> dict[str, Any]:
        """The month's budget document, with what this process spent and has not reported yet
        moved from held to spent (other processes' unreported spending shows as held)."""
        scope = TenantStore(self._store, tenant_id)
        period = _period(self._clock())
        doc = scope.get(self._budget_path(scope, period)) or {}
        for feature, spent in self.leases.local_unreported(tenant_id, period).items():
            if any(spent.values()):
                doc = shift_budget(doc, feature, spent, spent)
        doc.pop("leases", None)
        return doc

    # --- usage ----------------------------------------------------------------------------------
    def record(self, record: UsageRecord) -> None:
        """Store the call's record and add it to the day's sharded aggregates (behind the
        caller's back when the ledger writes behind: :meth:`flush` waits for it)."""
        if self._behind is None:
            self._write(record)
            return
        writebehind.track(self._behind.submit(self._write, record))

    def flush(self) -> None:
        """Wait for the records the current unit of work wrote behind (outside one: every record
        written behind so far), :func:`shared.core.writebehind.wait`.

        Raises:
            the first failure among them (a transient one: the unit of work is retried).
        """
        writebehind.wait()

    def _write(self, record: UsageRecord) -> None:
        scope = TenantStore(self._store, record.tenant_id)
        scope.set(self.record_path(record), self.record_doc(record))
        self.aggregate(record)

    def record_path(self, record: UsageRecord) -> str:
        """Where ``record`` is stored."""
        return TenantStore(self._store, record.tenant_id).path("llm_usage", record.call_id)

    @staticmethod
    def record_doc(record: UsageRecord) -> dict[str, Any]:
        """The stored form of a record (callers that must write it inside their own transaction
        use this with :meth:`record_path`, then :meth:`aggregate` once it committed)."""
        return {**record.model_dump(mode="python"), "expires_at": record.at + timedelta(days=400)}

    def aggregate(self, record: UsageRecord) -> None:
        """Add a stored record to the day's aggregates (this process's shard, coalesced:
        ``shared/ai/llm/aggregates.py``) and to its CRM object's, and publish it."""
        object_type = _object_type(record.crm_object)
        deltas = usage_deltas(record, object_type)
        self.aggregates.add(record.tenant_id, record.at.strftime("%Y-%m-%d"), deltas)
        if record.crm_object:
            scope = TenantStore(self._store, record.tenant_id)
            obj = scope.path("llm_usage_objects", _object_key(record.crm_object))
            scope.increment(obj, {key[1:]: v for key, v in deltas.items() if key[0] == "total"})
        if self._publisher is not None:
            self._publisher.publish(
                TOPIC_LLM_USAGE,
                record.model_dump(mode="json"),
                attributes={"tenant_id": record.tenant_id},
            )

    def daily(self, tenant_id: str, day: str) -> dict[str, Any]:
        """The day's aggregates, summed over shards (and what this process has not written)."""
        scope = TenantStore(self._store, tenant_id)
        total: dict[str, Any] = {}
        for _, shard in scope.query(self.aggregates.shards(tenant_id, day)):
            merge_sum(total, shard)
        for deltas in self.aggregates.pending(tenant_id, day):
            merge_sum(total, nested(deltas))
        return total


_OBJECT_TYPE = re.compile(r"[a-z_]{1,40}")


def _object_type(crm_object: str | None) -> str:
    """The report's key for an object's type; anything that is not a plain type name is
    "other", so no caller's value can break the aggregate's field paths."""
    kind = (crm_object or "none").split(":", 1)[0]
    return kind if _OBJECT_TYPE.fullmatch(kind) else "other"


def _object_key(crm_object: str) -> str:
    """The object's usage document id: the ref itself when it is a safe id, else a digest of it.
    Aggregation runs after the call was made (and paid): it must not fail on the ref's content,
    or the usage would be lost (issue 15, L2)."""
    try:
        return check_segment(crm_object.replace("/", "_"), field="crm_object")
    except InvalidInput:
        return "unsafe-" + hashlib.sha256(crm_object.encode()).hexdigest()[:32]


def new_call_id() -> str:
    """A new call id (usage records, reservations)."""
    return uuid.uuid4().hex


def merge_sum(into: dict[str, Any], other: dict[str, Any]) -> None:
    """Add ``other``'s numbers into ``into``, nested dicts key by key (usage shards and days
    summed into one aggregate)."""
    for key, value in other.items():
        if isinstance(value, dict):
            merge_sum(into.setdefault(key, {}), value)
        elif isinstance(value, (int, float)):
            into[key] = into.get(key, 0) + value
