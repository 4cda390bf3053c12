"""The ROC and reliability curves kept with a model's metrics (the console plots them): right
shape, and storable in Firestore (which refuses an array inside an array)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from shared.capabilities.scoring.metrics import summary


def _no_nested_arrays(value: Any, inside_list: bool = False) -> bool:
    if isinstance(value, list):
        return not inside_list and all(_no_nested_arrays(v, True) for v in value)
    if isinstance(value, dict):
        return all(_no_nested_arrays(v) for v in value.values())
    return True


def test_curves_are_monotone_bounded_and_storable() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(2000)
    y = (rng.random(2000) < p).astype(int)  # calibrated by construction
    out = summary(y, p)
    roc = out["roc"]
    assert 2 <= len(roc) <= 40 and roc[0] == {"fpr": 0.0, "tpr": 0.0} and roc[-1]["tpr"] == 1.0
    assert all(a["fpr"] <= b["fpr"] and a["tpr"] <= b["tpr"] for a, b in itertools.pairwise(roc))
    bins = out["calibration"]
    assert sum(b["rows"] for b in bins) == 2000
    assert all(abs(b["predicted"] - b["observed"]) < 0.1 for b in bins)
    assert _no_nested_arrays(out)
    assert summary(np.zeros(10, dtype=int), p[:10])["roc"] == []  # one class: no curve
