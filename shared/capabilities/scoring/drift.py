"""Drift monitoring: population stability (PSI) of each field and of the scores against the
training data, and realised accuracy as outcomes of scored leads arrive. Past thresholds it emits
``scoring.drift_detected`` on ``ai-events`` and, when asked, retrains.

PSI = sum((actual - expected) * ln(actual / expected)) over bins; below 0.1 is stable, 0.1-0.2 a
moderate shift, above 0.2 a significant one (the usual credit-scoring reading).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.core.config import TOPIC_AI_EVENTS
from shared.core.log import get_logger
from shared.core.messaging.pubsub import ordering_key

if TYPE_CHECKING:
    import pandas as pd

    from shared.capabilities.scoring.model import LeadModel
    from shared.core.messaging.pubsub import Publisher
    from shared.core.tenancy.scope import TenantStore

_log = get_logger("scoring.drift")
PSI_ALERT = 0.2
AUC_DROP_ALERT = 0.1
MIN_RECENT = 50
DRIFT_DETECTED = "scoring.drift_detected"
SCORE_EDGES = [i / 10 for i in range(1, 10)]


def _numeric_profile(values: pd.Series, edges: list[float] | None = None) -> dict[str, Any]:
    import numpy as np

    present = values.dropna().to_numpy(dtype="float64")
    if edges is None:
        edges = (
            sorted({float(q) for q in np.quantile(present, np.linspace(0.1, 0.9, 9))})
            if len(present)
            else []
        )
    counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    total = max(len(values), 1)
    return {
        "edges": edges,
        "shares": [float(c) / total for c in counts] + [float(values.isna().sum()) / total],
    }


def _categorical_profile(values: pd.Series, categories: list[str] | None = None) -> dict[str, Any]:
    text = values.astype("string")
    counts = text.value_counts()
    if categories is None:
        categories = [str(c) for c in counts.index[:20]]
    total = max(len(values), 1)
    shares = [float(counts.get(c, 0)) / total for c in categories]
    other = float(len(values) - text.isna().sum()) / total - sum(shares)
    return {
        "categories": categories,
        "shares": [*shares, max(other, 0.0), float(text.isna().sum()) / total],
    }


def profile(raw: dict[str, pd.Series], reference: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each feature's distribution; with ``reference``, on the reference's bins."""
    import pandas as pd

    out: dict[str, Any] = {}
    for name, values in raw.items():
        ref = (reference or {}).get(name)
        if pd.api.types.is_float_dtype(values):
            out[name] = _numeric_profile(values, ref["edges"] if ref else None)
        else:
            out[name] = _categorical_profile(values, ref["categories"] if ref else None)
    return out


def score_shares(probabilities: Any) -> list[float]:
    """The share of scores in each tenth of the score range."""
    import numpy as np

    counts = np.bincount(
        np.searchsorted(SCORE_EDGES, np.asarray(probabilities), side="right"), minlength=10
    )
    return [float(c) / max(len(probabilities), 1) for c in counts]


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index between two distributions (0.1 watch, 0.25 act)."""
    eps = 1e-4
    return float(
        sum(
            (a - e) * math.log((a + eps) / (e + eps)) for e, a in zip(expected, actual, strict=True)
        )
    )


def check(
    scope: TenantStore, model: LeadModel, publisher: Publisher | None = None
) -> dict[str, Any]:
    """Compare the leads the champion scored (their current fields) with its training data."""
    import numpy as np
    import pandas as pd

    from shared.capabilities.scoring.features import raw_features
    from shared.capabilities.scoring.metrics import auc, ece
    from shared.capabilities.scoring.service import SCORES, lead_fields

    reference = model.report.get("reference") or {}
    scored = [
        doc
        for _, doc in scope.query(scope.path(SCORES))
        if doc["result"]["model_version"] == model.version
    ]
    report: dict[str, Any] = {
        "model_version": model.version,
        "checked_at": datetime.now(UTC).isoformat(),
        "scored_leads": len(scored),
        "alerts": [],
    }
    if len(scored) < MIN_RECENT or not reference:
        report["status"] = (
            "not enough scored leads to judge" if reference else "model has no reference profile"
        )
        return report
    leads = scope.get_many([scope.path("leads", d["lead_id"]) for d in scored])
    frame = pd.DataFrame([lead_fields(lead) for lead in leads if lead is not None])
    current = profile(raw_features(frame, model.columns), reference.get("features"))
    fields = {
        name: psi(reference["features"][name]["shares"], current[name]["shares"])
        for name in current
        if name in reference.get("features", {})
    }
    score_psi = psi(reference["scores"], score_shares([d["result"]["probability"] for d in scored]))
    report.update(feature_psi=fields, score_psi=score_psi)
    report["alerts"] += [
        f"{name}: PSI {value:.2f}" for name, value in fields.items() if value > PSI_ALERT
    ]
    if score_psi > PSI_ALERT:
        report["alerts"].append(f"scores: PSI {score_psi:.2f}")
    outcomes = {lead["id"]: lead.get("status") for lead in leads if lead is not None}
    known = [
        (d["result"]["probability"], outcomes.get(d["lead_id"]) == "converted")
        for d in scored
        if outcomes.get(d["lead_id"]) in ("converted", "lost")
    ]
    if len(known) >= MIN_RECENT:
        p = np.array([k[0] for k in known])
        y = np.array([int(k[1]) for k in known])
        realised = {"leads": len(known), "auc": auc(y, p), "ece": ece(y, p)}
        report["realised"] = realised
        expected = float(model.report.get("validation", {}).get("auc") or 0.5)
        if realised["auc"] == realised["auc"] and realised["auc"] < expected - AUC_DROP_ALERT:
            report["alerts"].append(
                f"realised AUC {realised['auc']:.2f} against {expected:.2f} at validation"
            )
    report["status"] = "drift" if report["alerts"] else "stable"
    realised = report.get("realised") or {}
    _log.info(
        "scoring quality measured",
        extra={
            "fields": {
                # terraform/metrics.json: scoring_psi, scoring_auc, scoring_ece (per tenant)
                "metric": "scoring_quality",
                "tenant_id": scope.tenant_id,
                "model_version": model.version,
                "status": report["status"],
                "score_psi": round(score_psi, 4),
                "max_feature_psi": round(max(fields.values(), default=0.0), 4),
                "auc": realised.get("auc"),
                "ece": realised.get("ece"),
            }
        },
    )
    scope.set(scope.path("scoring_drift", datetime.now(UTC).strftime("%Y-%m-%d")), report)
    if report["alerts"] and publisher is not None:
        tenant = scope.tenant_id
        publisher.publish(
            TOPIC_AI_EVENTS,
            {
                "event_id": f"drift-{tenant}-{model.version}-{report['checked_at']}",
                "event_type": DRIFT_DETECTED,
                "tenant_id": tenant,
                "entity_type": "scoring_model",
                "entity_id": model.version,
                "data": {"alerts": report["alerts"]},
            },
            ordering_key=ordering_key(tenant, "scoring"),
            attributes={"tenant_id": tenant, "event_type": DRIFT_DETECTED},
        )
        _log.warning("scoring drift detected", extra={"fields": {"alerts": report["alerts"]}})
    return report
