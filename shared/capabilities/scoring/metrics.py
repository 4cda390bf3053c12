"""Model quality figures: AUC, expected calibration error, Brier score, lift by decile, and the
ROC and reliability curves (a few dozen points each, for the console's plots)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (NaN when only one class is present)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the row-weighted gap between mean prediction and outcome rate
    over ``bins`` equal-width probability bins."""
    import numpy as np

    index = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(float(y[mask].mean()) - float(p[mask].mean()))
    return total


def lift_by_decile(y: np.ndarray, p: np.ndarray) -> list[dict[str, float]]:
    """Deciles from the highest scores down: conversion rate and lift over the base rate."""
    import numpy as np

    order = np.argsort(-p, kind="stable")
    base = float(y.mean()) or 1e-9
    out = []
    for d, chunk in enumerate(np.array_split(order, 10)):
        rate = float(y[chunk].mean()) if len(chunk) else 0.0
        out.append(
            {"decile": d + 1, "rows": len(chunk), "conversion_rate": rate, "lift": rate / base}
        )
    return out


def roc_points(y: np.ndarray, p: np.ndarray, points: int = 40) -> list[dict[str, float]]:
    """``{"fpr", "tpr"}`` points along the ROC curve, at most ``points`` (objects, not pairs:
    Firestore stores no array inside an array)."""
    import numpy as np
    from sklearn.metrics import roc_curve

    if not 0 < y.sum() < len(y):
        return []
    fpr, tpr, _ = roc_curve(y, p)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(points, len(fpr))).astype(int))
    return [{"fpr": round(float(fpr[i]), 4), "tpr": round(float(tpr[i]), 4)} for i in keep]


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per equal-width probability bin: rows, mean prediction, observed outcome rate."""
    import numpy as np

    index = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            out.append(
                {
                    "bin": b,
                    "rows": int(mask.sum()),
                    "predicted": round(float(p[mask].mean()), 4),
                    "observed": round(float(y[mask].mean()), 4),
                }
            )
    return out


def summary(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """The figures a model report shows: AUC, calibration error (ECE), Brier score, base rate,
    lift by decile, and the ROC and reliability curves' points."""
    import numpy as np

    return {
        "rows": len(y),
        "positive_rate": float(np.mean(y)),
        "auc": auc(y, p),
        "ece": ece(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "lift_by_decile": lift_by_decile(y, p),
        "roc": roc_points(y, p),
        "calibration": reliability(y, p),
    }
