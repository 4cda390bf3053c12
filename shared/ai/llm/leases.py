"""Budget leases: each process spends a slice of a tenant's monthly budget locally, so an LLM
call touches no shared document (issue 19: no hot document).

The month's budget document (``tenants/{t}/llm_budget/{YYYY-MM}``) keeps, per limit (the total
and each feature), ``spent_*`` (reported real cost) and ``reserved_*`` (held: by leases, and by
batch jobs' direct reservations), and a map of live leases. A process holds one lease per
(tenant, month, feature). A call reserves its worst-case cost from the lease in memory and
settles its real cost in memory. Only when the lease cannot cover a call does the process go to
the document, in one optimistic write (a *renewal*: read, then write only if unchanged since) that:

- reaps leases not renewed for ``LEASE_TTL`` (their holdings count as spent: the process is gone
  or idle, and what it spent is not known);
- reports this lease's spent cost and hands back what it held;
- grants what the calls in flight and this call need, plus a slice: about ``SLICE_SECONDS`` of
  this process's recent spending (at least two calls' worth), at most ``MAX_SHARE`` of a limit,
  and at most ``FAIR_SHARE`` of what nobody holds; refused (:class:`BudgetExceeded`) when even
  the need does not fit.

**Bounds.** Every grant fits under each limit with everything reported or held, and a call
starts only inside its lease, so the sum of real costs exceeds a limit only by what real costs
exceed their reservations (a reservation is the prompt's estimate plus ``max_tokens``; only an
underestimated prompt can exceed it): overspend <= the sum over calls of (real - reserved)+,
the same bound as one shared document, whatever the number of processes. Underspend (budget
refused while unspent): at most the slices other processes hold (each <= ``MAX_SHARE`` of the
limit), and a reaped lease's unspent part. Document writes: one per renewal, so about
(processes / ``SLICE_SECONDS``) a second at a steady rate, whatever the call rate.

**Alerts.** A threshold (50/80/100 %) fires at the renewal where what is *committed* (spent, or
held by leases) crosses it: spending inside a lease never crosses unseen, so an alert is never
late, and it is early by at most what the leases hold (<= ``MAX_SHARE`` of the limit each).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.ai.llm.errors import BudgetExceeded
from shared.core.errors import TransientError
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.ai.llm.policy import Limit, LLMPolicy
    from shared.core.store.base import DocumentStore

LEASE_TTL = timedelta(minutes=5)
SLICE_SECONDS = 120.0  # a lease renews about this often under steady use (<= 1 % of a limit)
MAX_SHARE = 0.01
FAIR_SHARE = 0.25
RENEW_ATTEMPTS = 40  # optimistic writes lost to other processes' renewals before giving up
DIMS = (("usd", "monthly_usd"), ("tokens", "monthly_tokens"))


@dataclass
class _Lease:
    lease_id: str
    generation: int = 0  # bumped when the document no longer knows this lease (it was reaped)
    held: dict[str, float] = field(default_factory=lambda: {"usd": 0.0, "tokens": 0.0})
    in_flight: dict[str, float] = field(default_factory=lambda: {"usd": 0.0, "tokens": 0.0})
    unreported: dict[str, float] = field(default_factory=lambda: {"usd": 0.0, "tokens": 0.0})
    consumed: dict[str, float] = field(default_factory=lambda: {"usd": 0.0, "tokens": 0.0})
    renewed: float = 0.0  # time.monotonic() of the last renewal
    expires: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fits(self, need: dict[str, float], limited: set[str]) -> bool:
        if self.expires is None or self.expires - LEASE_TTL / 2 < datetime.now(UTC):
            return False  # renew well before others may reap it
        return all(
            self.held[d] - self.in_flight[d] - self.unreported[d] >= need[d] for d in limited
        )


def _limits(policy: LLMPolicy, feature: str) -> list[tuple[str, str, Limit]]:
    """(name in messages, key in the document, limit) for each limit a call counts against."""
    out = [("monthly", "total", policy.budget)]
    if feature in policy.feature_budgets:
        out.append((feature, feature, policy.feature_budgets[feature]))
    return out


def _used(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return dict(doc.get("total", {}) if key == "total" else doc.get("features", {}).get(key, {}))


class BudgetLeases:
    """This process's leases (one per tenant, month and feature)."""

    def __init__(
        self,
        store: DocumentStore,
        alert: Callable[[str, str, int], None],
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._alert = alert  # (tenant, period, threshold percent)
        self._clock = clock
        self._leases: dict[tuple[str, str, str], _Lease] = {}
        self._guard = threading.Lock()
        self.renewals = 0  # benchmarks read it

    def _lease(self, key: tuple[str, str, str]) -> _Lease:
        with self._guard:
            return self._leases.setdefault(key, _Lease(uuid.uuid4().hex[:16]))

    def reserve(
        self, tenant_id: str, period: str, feature: str, policy: LLMPolicy, tokens: int, usd: float
    ) -> str:
        """Take ``usd`` and ``tokens`` from this process's lease (renewing it when it cannot
        cover them); returns the reservation's lease reference for :meth:`settle`.

        Raises:
            BudgetExceeded: the call does not fit under a limit; the message says which.
        """
        need = {"usd": usd, "tokens": float(tokens)}
        limited = {
            d for d, attr in DIMS for _, _, lim in _limits(policy, feature) if getattr(lim, attr)
        }
        lease = self._lease((tenant_id, period, feature))
        with lease.lock:
            if not lease.fits(need, limited):
                self._renew(lease, tenant_id, period, feature, policy, need, strict=True)
            for d in need:
                lease.in_flight[d] += need[d]
                lease.consumed[d] += need[d]
            return f"{lease.lease_id}:{lease.generation}"

    def settle(
        self,
        tenant_id: str,
        period: str,
        feature: str,
        ref: str,
        reserved: tuple[int, float],
        real: tuple[int, float],
    ) -> None:
        """Swap a reservation for the real cost, in memory (reported at the next renewal)."""
        lease = self._lease((tenant_id, period, feature))
        with lease.lock:
            if ref != f"{lease.lease_id}:{lease.generation}":
                return  # the lease was reaped: its holdings, this call's included, count as spent
            for d, old, new in (("tokens", reserved[0], real[0]), ("usd", reserved[1], real[1])):
                lease.in_flight[d] = max(lease.in_flight[d] - old, 0.0)
                lease.unreported[d] += new

    def release(self) -> None:
        """Report what this process spent and hand back what it holds beyond the calls in
        flight (an instance shutting down; tests)."""
        with self._guard:
            leases = list(self._leases.items())
        for (tenant_id, period, feature), lease in leases:
            with lease.lock:
                if lease.expires is not None:
                    self._renew(lease, tenant_id, period, feature, None, None, strict=False)

    def local_unreported(self, tenant_id: str, period: str) -> dict[str, dict[str, float]]:
        """Spent here and not yet reported, per feature (budget views add it)."""
        with self._guard:
            mine = [(k[2], v) for k, v in self._leases.items() if k[:2] == (tenant_id, period)]
        return {feature: dict(lease.unreported) for feature, lease in mine}

    # --- the renewal: one optimistic write -------------------------------------------------------------------
    def _renew(
        self,
        lease: _Lease,
        tenant_id: str,
        period: str,
        feature: str,
        policy: LLMPolicy | None,
        need: dict[str, float] | None,
        *,
        strict: bool,
    ) -> None:
        """One optimistic write of the budget document (see the module docstring); without a
        ``policy`` (a release) nothing beyond the calls in flight is held again."""
        scope = TenantStore(self._store, tenant_id)
        path = scope.path("llm_budget", period)
        now = datetime.now(UTC)
        elapsed = max(time.monotonic() - lease.renewed, 1.0) if lease.renewed else None
        for attempt in range(RENEW_ATTEMPTS):
            doc, version = scope.get_versioned(path)
            doc, result = self._renewed(
                doc or {}, lease, feature, period, policy, need, elapsed, now, strict
            )
            # Optimistic: written only if nobody renewed since the read (no lock to wait on).
            if scope.set_if(path, doc, version):
                break
            time.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))  # noqa: S311 - jitter
        else:
            raise TransientError(f"the budget document of {tenant_id} stayed contended")
        self.renewals += 1
        if result["reaped"]:
            lease.generation += 1
            lease.in_flight = {"usd": 0.0, "tokens": 0.0}
        lease.held = dict(result["grant"])
        lease.unreported = {"usd": 0.0, "tokens": 0.0}
        lease.consumed = {"usd": 0.0, "tokens": 0.0}
        lease.renewed, lease.expires = time.monotonic(), now + LEASE_TTL
        for threshold in result["crossed"]:
            self._alert(tenant_id, period, threshold)

    def _renewed(
        self,
        doc: dict[str, Any],
        lease: _Lease,
        feature: str,
        period: str,
        policy: LLMPolicy | None,
        need: dict[str, float] | None,
        elapsed: float | None,
        now: datetime,
        strict: bool,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The budget document after this renewal, and what it decided."""
        leases = dict(doc.get("leases", {}))
        for lid, entry in list(leases.items()):  # reap: holdings of the gone count as spent
            if lid != lease.lease_id and entry["expires_at"] < now:
                held = {d: float(entry.get(d, 0.0)) for d, _ in DIMS}
                doc = shift_budget(doc, str(entry["feature"]), held, held)
                del leases[lid]
        mine = leases.pop(lease.lease_id, None)
        reaped = mine is None and lease.expires is not None
        held = {d: float((mine or {}).get(d, 0.0)) for d, _ in DIMS}
        report = {d: 0.0 if reaped else lease.unreported[d] for d, _ in DIMS}
        doc = shift_budget(doc, feature, held, report)  # hand back what it held, report spent
        flight = {d: 0.0 if reaped else lease.in_flight[d] for d, _ in DIMS}
        want = {d: flight[d] + (need or {}).get(d, 0.0) for d, _ in DIMS}
        grant = (
            want
            if policy is None
            else self._grant(doc, policy, feature, period, lease, want, need, elapsed, strict)
        )
        doc = shift_budget(doc, feature, {d: -grant[d] for d in grant}, {})
        leases[lease.lease_id] = {"feature": feature, **grant, "expires_at": now + LEASE_TTL}
        doc["leases"] = leases
        crossed = [] if policy is None else _thresholds(doc, policy)
        doc["alerts_sent"] = sorted(set(doc.get("alerts_sent", [])) | set(crossed))
        return doc, {"grant": grant, "reaped": reaped, "doc": doc, "crossed": crossed}

    def _grant(
        self,
        doc: dict[str, Any],
        policy: LLMPolicy,
        feature: str,
        period: str,
        lease: _Lease,
        want: dict[str, float],
        need: dict[str, float] | None,
        elapsed: float | None,
        strict: bool,
    ) -> dict[str, float]:
        """What to hold: ``want`` (in flight + this call) plus a slice, per limited dimension."""
        grant = {d: 0.0 for d, _ in DIMS}
        for d, attr in DIMS:
            limits = [(n, k, getattr(lim, attr)) for n, k, lim in _limits(policy, feature)]
            limits = [(n, k, v) for n, k, v in limits if v]
            if not limits:
                continue
            rate = lease.consumed[d] / elapsed if elapsed else 0.0
            extra = max(rate * SLICE_SECONDS, 2 * (need or {}).get(d, 0.0))
            for name, key, limit in limits:
                used = _used(doc, key)
                free = float(limit) - used.get(f"spent_{d}", 0.0) - used.get(f"reserved_{d}", 0.0)
                if strict and want[d] > free:
                    taken, asked = _amount(d, float(limit) - free), _amount(d, want[d])
                    cap = f"${float(limit):.2f}" if d == "usd" else f"{int(limit)} tokens"
                    raise BudgetExceeded(
                        f"the {name} budget of {cap} for {period} cannot cover this call "
                        f"({taken} used or reserved, {asked} needed)",
                        field="budget",
                    )
                extra = min(extra, MAX_SHARE * float(limit), FAIR_SHARE * max(free - want[d], 0.0))
            grant[d] = want[d] + max(extra, 0.0)  # a report (not strict) keeps what is in flight
        return grant


def apply_deltas(doc: dict[str, Any], feature: str, **deltas: float) -> dict[str, Any]:
    """The budget document with each delta added (never below 0) to the total and to
    ``feature``'s figures (``spent_usd``, ``reserved_tokens``...)."""
    doc = dict(doc)
    total = dict(doc.get("total", {}))
    features = {k: dict(v) for k, v in doc.get("features", {}).items()}
    mine = features.setdefault(feature, {})
    for key, delta in deltas.items():
        total[key] = max(total.get(key, 0) + delta, 0)
        mine[key] = max(mine.get(key, 0) + delta, 0)
    doc["total"], doc["features"] = total, features
    return doc


def shift_budget(
    doc: dict[str, Any], feature: str, unhold: dict[str, float], spend: dict[str, float]
) -> dict[str, Any]:
    """``reserved_*`` less ``unhold``, ``spent_*`` plus ``spend``, on the total and ``feature``."""
    deltas = {f"reserved_{d}": -_num(d, v) for d, v in unhold.items()}
    deltas |= {f"spent_{d}": _num(d, v) for d, v in spend.items()}
    return apply_deltas(doc, feature, **deltas)


def _amount(dim: str, value: float) -> str:
    return f"${value:.4f}" if dim == "usd" else str(round(value))


def _num(dim: str, value: float) -> float | int:
    return round(value) if dim == "tokens" else value


def _thresholds(doc: dict[str, Any], policy: LLMPolicy) -> list[int]:
    """Thresholds newly crossed by what is committed: spent, or held by a lease (a process's
    unreported spending is inside what it holds, so this never alerts late)."""
    used = doc.get("total", {})
    fractions = [
        (used.get(f"spent_{d}", 0.0) + used.get(f"reserved_{d}", 0.0))
        / float(getattr(policy.budget, attr))
        for d, attr in DIMS
        if getattr(policy.budget, attr)
    ]
    fraction = max(fractions, default=0.0)
    sent = set(doc.get("alerts_sent", []))
    return [t for t in policy.alert_thresholds if fraction * 100 >= t and t not in sent]
