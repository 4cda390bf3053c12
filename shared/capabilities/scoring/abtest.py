"""A/B tests of a challenger model against the champion: both on the same recent holdout
(AUC, calibration, lift, with bootstrap confidence intervals), and live conversion per arm once
outcomes of the leads each arm scored arrive through CRM events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.capabilities.scoring.metrics import auc, ece, lift_by_decile
from shared.capabilities.scoring.registry import ModelRegistry
from shared.capabilities.scoring.reports import AbTestReport, ArmFigures, ArmLive, Holdout
from shared.capabilities.scoring.service import LEAD_ID, SCORES, TARGET, labelled_leads

if TYPE_CHECKING:
    from datetime import datetime

    import numpy as np

    from shared.core.tenancy.scope import TenantStore


def _interval(values: list[float]) -> list[float]:
    import numpy as np

    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))] if values else []


def _holdout(y: np.ndarray, p: np.ndarray, q: np.ndarray, rounds: int = 200) -> Holdout:
    import numpy as np

    rng = np.random.default_rng(0)
    diffs, a_s, b_s = [], [], []
    for _ in range(rounds):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            a, b = auc(y[idx], p[idx]), auc(y[idx], q[idx])
            a_s.append(a)
            b_s.append(b)
            diffs.append(b - a)
    return Holdout(
        rows=len(y),
        champion=_arm(y, p, a_s),
        challenger=_arm(y, q, b_s),
        auc_difference=auc(y, q) - auc(y, p),
        auc_difference_95ci=_interval(diffs),
    )


def _arm(y: np.ndarray, p: np.ndarray, bootstrapped: list[float]) -> ArmFigures:
    return ArmFigures(
        auc=auc(y, p),
        auc_95ci=_interval(bootstrapped),
        ece=ece(y, p),
        top_decile_lift=lift_by_decile(y, p)[0]["lift"],
    )


def _live(scope: TenantStore, since: datetime | None) -> dict[str, ArmLive]:
    """Conversion of the leads each arm scored since the test began, among those whose outcome
    is known."""
    import math

    arms: dict[str, dict[str, int]] = {
        "champion": {"scored": 0, "won": 0, "lost": 0},
        "challenger": {"scored": 0, "won": 0, "lost": 0},
    }
    scored = scope.query(scope.path(SCORES))
    outcomes = {
        d: doc.get("status")
        for d, doc in scope.query(
            scope.path("leads"), where=[("status", "in", ["converted", "lost"])]
        )
    }
    for lead_id, doc in scored:
        if since is not None and doc["result"]["scored_at"] < since:
            continue
        arm = arms.get(doc.get("arm", "champion"))
        if arm is None:
            continue
        arm["scored"] += 1
        status = outcomes.get(lead_id)
        if status == "converted":
            arm["won"] += 1
        elif status == "lost":
            arm["lost"] += 1
    out: dict[str, ArmLive] = {}
    for name, counts in arms.items():
        n = counts["won"] + counts["lost"]
        interval: list[float] = []
        rate = None
        if n:
            rate = counts["won"] / n
            half = 1.96 * math.sqrt(rate * (1 - rate) / n)
            interval = [max(0.0, rate - half), min(1.0, rate + half)]
        out[name] = ArmLive(
            scored=counts["scored"],
            won=counts["won"],
            lost=counts["lost"],
            conversion_rate=rate,
            conversion_95ci=interval,
        )
    return out


def report(scope: TenantStore) -> AbTestReport:
    """The champion and challenger compared twice: on the newest fifth of labelled leads (AUC of
    each, with a bootstrap interval of the difference), and live, by the conversion of the leads
    each arm scored since the test began."""
    from shared.capabilities.scoring.training import labels

    registry = ModelRegistry(scope)
    assignment = registry.assignment()
    result = AbTestReport(assignment=assignment)
    if assignment.champion and assignment.challenger:
        frame = labelled_leads(scope)
        if not frame.empty:
            recent, y = labels(
                frame.iloc[int(len(frame) * 0.8) :].drop(columns=[LEAD_ID]), TARGET, "won"
            )
            if 0 < y.sum() < len(y):
                p = registry.load(assignment.champion).predict_proba(recent)
                q = registry.load(assignment.challenger).predict_proba(recent)
                result.holdout = _holdout(y, p, q)
        result.live = _live(scope, assignment.test_started_at)
    return result
