"""Training a tenant's lead model from its won/lost history, whatever fields its CRM has.

Too little history (fewer than ``MIN_ROWS`` labelled leads or ``MIN_CLASS`` of either outcome,
in line with CRM vendors that require about a thousand leads and a hundred conversions before
predictive scoring switches on) gives a *prior* model instead: the logistic part alone, heavily
regularised, confidence capped at 0.3 and flagged ``insufficient_history``; with almost nothing
(under 30 rows or 5 of a class) the prior is the base rate.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.capabilities.scoring.columns import clean, infer
from shared.capabilities.scoring.context import find_period
from shared.capabilities.scoring.features import (
    booster_frame,
    fit_features,
    linear_matrix,
    raw_features,
    tree_frame,
)
from shared.capabilities.scoring.leakage import find_leaks
from shared.capabilities.scoring.metrics import summary
from shared.capabilities.scoring.model import Calibrator, LeadModel
from shared.core.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MIN_ROWS = 500
MIN_CLASS = 50
TREE_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "verbose": -1,
    "num_threads": 2,
    "seed": 7,
    "deterministic": True,
}


def labels(frame: pd.DataFrame, target: str, positive: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows with a known outcome, and 1 where the outcome is ``positive`` (case-insensitive)."""
    if target not in frame.columns:
        raise InvalidInput(f"target column {target!r} is not in the data", field="target")
    outcome = clean(frame[target]).astype("string").str.lower()
    known = outcome.notna()
    y = (outcome[known] == str(positive).lower()).to_numpy().astype(int)
    if len(y) == 0:
        raise InvalidInput(f"no row has an outcome in {target!r}", field="target")
    return frame[known.to_numpy()], y


def _calibrate(logits: np.ndarray, y: np.ndarray) -> Calibrator:
    import numpy as np
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    platt = LogisticRegression(C=1e6, max_iter=1000).fit(logits.reshape(-1, 1), y)
    slope = float(platt.coef_[0, 0])
    if len(y) >= 2000 and min(y.sum(), len(y) - y.sum()) >= 50:
        iso = IsotonicRegression(y_min=1e-4, y_max=1 - 1e-4).fit(logits, y)
        fitted = iso.predict(logits)
        # Isotonic regression is a step function: every score inside a step would get the same
        # probability, and ties lose ranking (AUC). The map goes through each step's centre
        # instead, strictly increasing, so distinct scores keep their order.
        levels = np.unique(fitted)
        centres = [float(logits[fitted == level].mean()) for level in levels]
        return Calibrator(
            "isotonic",
            x=centres,
            y=[float(v) for v in levels],
            tail=max(slope, 1e-3),
        )
    return Calibrator("platt", a=slope, b=float(platt.intercept_[0]))


def _fit_linear(matrix: np.ndarray, y: np.ndarray, c_value: float) -> tuple[list[float], float]:
    from sklearn.linear_model import LogisticRegression

    linear = LogisticRegression(C=c_value, max_iter=3000).fit(matrix, y)
    return [float(v) for v in linear.coef_[0]], float(linear.intercept_[0])


def _oof_margin(matrix: np.ndarray, y: np.ndarray, c_value: float, seed: int) -> np.ndarray:
    """The logistic model's log-odds for each row from a fit that did not see it: the trees start
    there and learn what the logistic model misses; out-of-fold margins keep them honest."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    margin = cross_val_predict(
        LogisticRegression(C=c_value, max_iter=3000),
        matrix,
        y,
        cv=folds,
        method="decision_function",
    )
    return np.asarray(margin, dtype="float64")


def _leaf_counts(booster: Any) -> list[list[int]]:
    def walk(node: dict[str, Any], out: dict[int, int]) -> None:
        if "leaf_index" in node:
            out[node["leaf_index"]] = int(node.get("leaf_count", 0))
            return
        walk(node["left_child"], out)
        walk(node["right_child"], out)

    counts = []
    for tree in booster.dump_model()["tree_info"]:
        leaves: dict[int, int] = {}
        walk(tree["tree_structure"], leaves)
        counts.append([leaves.get(i, 0) for i in range(max(leaves) + 1)] if leaves else [0])
    return counts


def _reference(raw: dict[str, Any], columns: list[Any], probabilities: Any) -> dict[str, Any]:
    """What drift checks compare against: each kept feature's distribution and the scores'."""
    from shared.capabilities.scoring.drift import profile, score_shares

    kept = {c.name for c in columns}
    features = {k: v for k, v in raw.items() if k.split("__", 1)[0] in kept}
    return {"features": profile(features), "scores": score_shares(probabilities)}


def train(
    frame: pd.DataFrame,
    *,
    target: str,
    positive: str,
    id_column: str | None = None,
    exclude: list[str] | None = None,
    seed: int = 7,
) -> LeadModel:
    """Fit a model on ``frame``'s labelled rows.

    Raises:
        InvalidInput: the target is missing, has no labelled rows, or names a column that is absent.
    """
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split

    labelled, y = labels(frame, target, positive)
    drop = [target, *([id_column] if id_column else []), *(exclude or [])]
    missing = [c for c in drop if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"column {missing[0]!r} is not in the data",
            field="exclude" if missing[0] != id_column else "id",
        )
    inputs = labelled.drop(columns=drop)
    cleaned = pd.DataFrame({c: clean(inputs[c]) for c in inputs.columns}, index=inputs.index)
    columns, dropped = infer(cleaned)
    raw = raw_features(cleaned, columns)
    leaks = find_leaks(raw, columns, y) if len(np.unique(y)) == 2 else []
    leaked = {leak.field for leak in leaks}
    columns = [c for c in columns if c.name not in leaked]
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    enough = len(y) >= MIN_ROWS and min(positives, negatives) >= MIN_CLASS
    report: dict[str, Any] = {
        "trained_at": datetime.now(UTC).isoformat(),
        "labelled_rows": len(y),
        "positives": positives,
        "negatives": negatives,
        "insufficient_history": not enough,
        "thresholds": {"min_rows": MIN_ROWS, "min_per_outcome": MIN_CLASS},
        "columns": {c.name: c.kind for c in columns},
        "excluded": [{"field": d.name, "reason": d.reason} for d in dropped]
        + [{"field": leak.field, "reason": leak.reason} for leak in leaks]
        + [{"field": c, "reason": "excluded by the caller"} for c in exclude or []],
    }
    period, context = find_period(cleaned, columns)
    if context:
        report["context"] = context
    if period is not None:
        columns = [*columns, period]
    features = fit_features(cleaned, columns)
    tree_all = tree_frame(cleaned, columns, features)
    matrix_all, _ = linear_matrix(tree_all, features)
    tree_all = booster_frame(tree_all, features)
    version = f"{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    common: dict[str, Any] = {
        "version": version,
        "target": target,
        "positive": str(positive),
        "id_column": id_column,
        "columns": columns,
        "features": features,
        "report": report,
    }

    if len(y) < 30 or min(positives, negatives) < 5:
        rate = (positives + 1) / (len(y) + 10)  # the base rate, pulled towards 10 % when tiny
        logit = float(np.log(rate / (1 - rate)))
        report["model"] = "base rate only: too little history to learn from fields"
        return LeadModel(
            kind="prior",
            coef=[],
            intercept=logit,
            calibrator=Calibrator("identity"),
            linear_means=[],
            base_logit=logit,
            **common,
        )

    stratify = y if min(positives, negatives) >= 2 else None
    # 85 % fits; of the rest, half stops the trees early and fits the calibrator, half is kept
    # unseen for the validation figures in the report.
    fit_idx, held = train_test_split(
        np.arange(len(y)), test_size=0.15, random_state=seed, stratify=stratify
    )
    held_stratify = y[held] if min(y[held].sum(), len(held) - y[held].sum()) >= 2 else None
    val_idx, report_idx = train_test_split(
        held, test_size=0.5, random_state=seed, stratify=held_stratify
    )
    c_value = 0.2 if enough else 0.05
    coef, intercept = _fit_linear(matrix_all[fit_idx], y[fit_idx], c_value)
    val_logits = matrix_all[val_idx] @ np.asarray(coef) + intercept
    booster = None
    leaf_counts: list[list[int]] = []
    if enough:
        import lightgbm

        margin = _oof_margin(matrix_all[fit_idx], y[fit_idx], c_value, seed)
        params = {**TREE_PARAMS, "seed": seed}
        train_set = lightgbm.Dataset(tree_all.iloc[fit_idx], y[fit_idx], init_score=margin)
        valid_set = lightgbm.Dataset(
            tree_all.iloc[val_idx], y[val_idx], init_score=val_logits, reference=train_set
        )
        booster = lightgbm.train(
            params,
            train_set,
            num_boost_round=2000,
            valid_sets=[valid_set],
            callbacks=[lightgbm.early_stopping(100, verbose=False)],
        )
        if booster.best_iteration > 0:
            booster = lightgbm.Booster(
                model_str=booster.model_to_string(num_iteration=booster.best_iteration)
            )
        val_logits = val_logits + booster.predict(tree_all.iloc[val_idx], raw_score=True)
        leaf_counts = _leaf_counts(booster)
        report["trees"] = booster.num_trees()
        report["model"] = "logistic + gradient-boosted trees on its residual, calibrated"
    else:
        report["model"] = "prior: regularised logistic model only (insufficient history)"
    calibrator = _calibrate(val_logits, y[val_idx])
    report_logits = matrix_all[report_idx] @ np.asarray(coef) + intercept
    if booster is not None:
        report_logits = report_logits + booster.predict(tree_all.iloc[report_idx], raw_score=True)
    report["validation"] = summary(y[report_idx], calibrator(report_logits))
    report["reference"] = _reference(raw, columns, calibrator(report_logits))
    if booster is not None:
        # The figures above come from models that never saw the held-out rows; the model kept is
        # refitted on every row with the tree count early stopping chose (more data, same shape).
        coef, intercept = _fit_linear(matrix_all, y, c_value)
        booster = lightgbm.train(
            params,
            lightgbm.Dataset(tree_all, y, init_score=_oof_margin(matrix_all, y, c_value, seed)),
            num_boost_round=booster.num_trees(),
        )
        leaf_counts = _leaf_counts(booster)
    report["calibrator"] = calibrator.kind
    train_logits = matrix_all @ np.asarray(coef) + intercept
    if booster is not None:
        train_logits = train_logits + booster.predict(tree_all, raw_score=True)
    return LeadModel(
        kind="tenant" if enough else "prior",
        coef=coef,
        intercept=intercept,
        calibrator=calibrator,
        linear_means=[float(v) for v in matrix_all.mean(axis=0)],
        base_logit=float(np.median(train_logits)),
        booster=booster,
        leaf_counts=leaf_counts,
        **common,
    )
