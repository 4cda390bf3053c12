"""Model quality figures: AUC, expected calibration error, Brier score, lift by decile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def auc(y: np.ndarray, p: np.ndarray) -> float:
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


def summary(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    import numpy as np

    return {
        "rows": len(y),
        "positive_rate": float(np.mean(y)),
        "auc": auc(y, p),
        "ece": ece(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "lift_by_decile": lift_by_decile(y, p),
    }
