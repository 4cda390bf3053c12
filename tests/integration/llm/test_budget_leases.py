"""Budget leases (shared/ai/llm/leases.py) on the Firestore emulator: processes racing on one
tenant's budget stay within the documented bound, use nearly all of it, and touch the budget
document about once per slice, not once per call; a lease whose process is gone is reaped and
counted as spent; thresholds still alert at once."""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from typing import Any

import pytest

from shared.ai.llm.errors import BudgetExceeded
from shared.ai.llm.ledger import Ledger
from shared.ai.llm.policy import Limit, LLMPolicy
from shared.core.config import load_settings
from shared.core.store import MemoryStore
from shared.core.store.firestore import FirestoreStore

BUDGET_USD = 20.0  # a slice (1 %) is then ~200 calls, as with real budgets and call costs


def _spend(tenant: str, seed: int, overshoot: bool) -> dict[str, Any]:
    """One racing process: calls until the budget refuses it three times running."""
    ledger = Ledger(FirestoreStore.from_settings(load_settings(os.environ)))
    policy = LLMPolicy(budget=Limit(monthly_usd=BUDGET_USD))
    rng = random.Random(seed)
    out = {"spent": 0.0, "calls": 0, "over": 0.0, "refused": 0}
    while out["refused"] < 3:
        usd = rng.uniform(0.0005, 0.0015)
        try:
            reservation = ledger.reserve(tenant, "chat", policy, 100, usd, leased=True)
        except BudgetExceeded:
            out["refused"] += 1
            ledger.leases.release()  # what it holds goes back for the others
            time.sleep(0.05)
            continue
        out["refused"] = 0
        # Real cost under the reservation, or (one call in ten) 10 % over it: an underestimated
        # prompt, the only way a real cost can pass its reservation.
        real = usd * (1.1 if overshoot and rng.random() < 0.1 else rng.uniform(0.3, 1.0))
        ledger.settle(reservation, policy, 100, real)
        out["spent"] += real
        out["over"] += max(real - usd, 0.0)
        out["calls"] += 1
    ledger.leases.release()
    out["renewals"] = ledger.leases.renewals
    return out


@pytest.mark.parametrize("overshoot", [False, True], ids=["within", "overshooting"])
def test_racing_processes_stay_within_the_bound(clean_firestore: Any, overshoot: bool) -> None:
    tenant, processes = f"race{int(overshoot)}", 4
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        results = list(
            pool.map(_spend, [tenant] * processes, range(processes), [overshoot] * processes)
        )
    spent = sum(r["spent"] for r in results)
    over = sum(r["over"] for r in results)
    calls = sum(r["calls"] for r in results)
    renewals = sum(r["renewals"] for r in results)
    ledger = Ledger(FirestoreStore.from_settings(load_settings(os.environ)))
    doc = ledger.budget_state(tenant)["total"]
    print(
        f"\n{processes} processes, {calls} calls: spent ${spent:.4f} of ${BUDGET_USD:.2f} "
        f"(over reservations ${over:.4f}), {renewals} budget document transactions"
    )
    # The bound: spending passes the limit only by what real costs passed their reservations.
    assert spent <= BUDGET_USD + over + 1e-9
    if not overshoot:
        assert spent <= BUDGET_USD
    # Every cent reported, nothing left held once the processes handed their slices back.
    assert doc["spent_usd"] == pytest.approx(spent, abs=1e-9)
    assert doc["reserved_usd"] == pytest.approx(0, abs=1e-9)
    # Nearly all of it usable (what others hold when a process is refused is the difference).
    assert spent >= 0.9 * BUDGET_USD
    # The document is touched once per slice, not once per call.
    assert renewals * 3 < calls


def test_a_gone_processs_lease_is_reaped_and_counted_as_spent() -> None:
    store = MemoryStore()
    policy = LLMPolicy(budget=Limit(monthly_usd=1.0))
    gone, alive = Ledger(store), Ledger(store)
    first = gone.reserve("acme", "chat", policy, 10, 0.01, leased=True)
    gone.settle(first, policy, 10, 0.004)
    # This process's view: its unreported spending counts as spent, the rest of its slice held.
    mine = gone.budget_state("acme")["total"]
    assert mine["spent_usd"] == pytest.approx(0.004)
    assert mine["reserved_usd"] == pytest.approx(0.02 - 0.004)  # the call and a 1 % slice
    path = f"tenants/acme/llm_budget/{first.period}"
    doc = store.get(path)
    assert doc is not None
    for entry in doc["leases"].values():  # it stopped renewing long ago
        entry["expires_at"] = datetime.now(UTC) - timedelta(seconds=1)
    store.set(path, doc)
    call = alive.reserve("acme", "chat", policy, 10, 0.01, leased=True)
    # Reaped: the gone process's whole holding counts as spent (what it spent is not known).
    assert alive.budget_state("acme")["total"]["spent_usd"] == pytest.approx(0.02)
    alive.settle(call, policy, 10, 0.01)
    late = gone.reserve("acme", "chat", policy, 10, 0.01, leased=True)  # from what was counted
    gone.settle(late, policy, 10, 0.01)
    gone.leases.release()
    alive.leases.release()
    gone.settle(late, policy, 10, 0.5)  # a stale settlement of the reaped lease changes nothing
    gone.leases.release()
    after = Ledger(store).budget_state("acme")["total"]
    assert after["spent_usd"] == pytest.approx(0.02 + 0.01, abs=1e-9)
    assert after["reserved_usd"] == pytest.approx(0, abs=1e-9)


def test_a_threshold_alerts_once_when_what_is_committed_crosses_it() -> None:
    store = MemoryStore()
    policy = LLMPolicy(budget=Limit(monthly_usd=1.0), alert_thresholds=[50])
    ledger = Ledger(store)
    alerts: list[tuple[str, str, int]] = []
    ledger.leases._alert = lambda *a: alerts.append(a)
    for _ in range(6):
        r = ledger.reserve("acme", "chat", policy, 10, 0.1, leased=True)
        ledger.settle(r, policy, 10, 0.1)
    assert [a[2] for a in alerts] == [50]
    raw = store.get(f"tenants/acme/llm_budget/{alerts[0][1]}")
    assert raw is not None and raw["alerts_sent"] == [50] and raw["total"]["spent_usd"] >= 0.5
