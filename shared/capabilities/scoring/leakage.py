"""The leakage guard: fields only known after the outcome, or that predict it almost perfectly
alone, are left out, and the training report says which and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.capabilities.scoring.columns import post_outcome_name

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from shared.capabilities.scoring.columns import ColumnSpec

NEAR_PERFECT_AUC = 0.95


@dataclass
class Leak:
    """A column that gives the outcome away, and the evidence."""

    field: str
    reason: str


def _single_field_auc(values: pd.Series, y: np.ndarray) -> float:
    """AUC of the best ranking one field alone can give (out-of-fold target rates for categories)."""
    import numpy as np
    import pandas as pd

    from shared.capabilities.scoring.metrics import auc

    if pd.api.types.is_float_dtype(values):
        filled = values.fillna(values.median() if values.notna().any() else 0).to_numpy()
        a = auc(y, filled)
        return max(a, 1 - a)
    keys = values.astype("string").fillna("__missing__").to_numpy()
    folds = np.arange(len(keys)) % 5
    encoded = np.zeros(len(keys))
    prior = float(y.mean())
    for k in range(5):
        train, test = folds != k, folds == k
        rates = pd.Series(y[train]).groupby(keys[train]).agg(["sum", "count"])
        smoothed = (rates["sum"] + 10 * prior) / (rates["count"] + 10)
        encoded[test] = pd.Series(keys[test]).map(smoothed).fillna(prior).to_numpy()
    a = auc(y, encoded)
    return max(a, 1 - a)


def find_leaks(raw: dict[str, pd.Series], columns: list[ColumnSpec], y: np.ndarray) -> list[Leak]:
    """Columns that predict the outcome too well, or by name are known only after it: left out of
    training, since they would not be known when a lead is scored."""
    leaks: list[Leak] = []
    for spec in columns:
        if post_outcome_name(spec.name):
            leaks.append(
                Leak(
                    spec.name,
                    "its name says it is only known after the outcome (for example a call "
                    "duration or a close date)",
                )
            )
            continue
        scores = [
            _single_field_auc(values, y)
            for name, values in raw.items()
            if name == spec.name or name.startswith(f"{spec.name}__")
        ]
        best = max(scores, default=0.5)
        if best >= NEAR_PERFECT_AUC:
            leaks.append(
                Leak(
                    spec.name,
                    f"alone it predicts the outcome almost perfectly (AUC {best:.3f}); it is "
                    "probably recorded with or after the outcome",
                )
            )
    return leaks
