"""A tenant's lead model: a regularised logistic model for the broad, stable effects (it also
extrapolates sensibly when the world drifts), gradient-boosted trees (LightGBM) on its residual
for interactions and non-linear effects, and a calibrator mapping the summed log-odds to a
probability. ``score`` = round(100 x probability).

Everything a model needs to score is JSON plus LightGBM's own text format, so a model can be
written to a folder, to Firestore in chunks, or to Cloud Storage, and loaded without pickles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from shared.capabilities.scoring.columns import ColumnSpec, display, format_value
from shared.capabilities.scoring.features import (
    Feature,
    booster_frame,
    from_json,
    linear_matrix,
    to_json,
    tree_frame,
    unusual_share,
)
from shared.capabilities.scoring.types import ScoreComponent

if TYPE_CHECKING:
    import lightgbm
    import numpy as np
    import pandas as pd

SUPPORT_ROWS = (
    100  # training rows in the same leaves at which a prediction counts as well supported
)
PRIOR_CONFIDENCE_CAP = 0.3


@dataclass
class Calibrator:
    """Maps raw model scores to probabilities that match observed conversion rates (isotonic, Platt,
    or none)."""

    kind: Literal["isotonic", "platt", "identity"]
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    a: float = 1.0
    b: float = 0.0
    tail: float = 0.0  # isotonic only: log-odds slope beyond the first and last points

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        """Probabilities for the model's raw log-odds."""
        import numpy as np

        if self.kind == "isotonic":
            out = np.interp(logits, self.x, self.y)
            if self.tail > 0:
                # Past the ends the map keeps rising instead of clipping to one value, so
                # calibration never turns distinct scores into ties (ranking is kept).
                ends = np.clip(np.asarray([self.y[0], self.y[-1]]), 1e-4, 1 - 1e-4)
                low, high = np.log(ends / (1 - ends))
                below = logits < self.x[0]
                edge = np.where(
                    below,
                    low + self.tail * (logits - self.x[0]),
                    high + self.tail * (logits - self.x[-1]),
                )
                outside = below | (logits > self.x[-1])
                out = np.where(outside, 1 / (1 + np.exp(-edge)), out)
            out = np.clip(out, 1e-6, 1 - 1e-6)
        else:
            out = 1 / (1 + np.exp(-(self.a * logits + self.b)))
        return np.asarray(out, dtype="float64")


@dataclass
class LeadModel:
    """A tenant's lead-scoring model: a logistic model with period effects, trees on its residual, a
    calibrator, and the columns it reads."""

    version: str
    kind: Literal["tenant", "prior"]
    target: str
    positive: str
    id_column: str | None
    columns: list[ColumnSpec]
    features: list[Feature]
    coef: list[float]
    intercept: float
    calibrator: Calibrator
    linear_means: list[float]
    base_logit: float
    booster: lightgbm.Booster | None = None
    leaf_counts: list[list[int]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    # --- scoring --------------------------------------------------------------------------------
    def _inputs(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """The trees' inputs and the logistic part's (the latter also sees the period key)."""
        tree = tree_frame(frame, self.columns, self.features)
        matrix, _ = linear_matrix(tree, self.features)
        return booster_frame(tree, self.features), matrix

    def _logits(self, tree: pd.DataFrame, matrix: np.ndarray) -> np.ndarray:
        import numpy as np

        logits = (
            matrix @ np.asarray(self.coef) + self.intercept
            if self.coef
            else np.full(len(tree), self.intercept)
        )
        if self.booster is not None:
            logits = logits + self.booster.predict(tree, raw_score=True)
        return np.asarray(logits, dtype="float64")

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated conversion probabilities for the rows of ``frame``."""
        tree, matrix = self._inputs(frame)
        return self.calibrator(self._logits(tree, matrix))

    def confidence(self, tree: pd.DataFrame) -> np.ndarray:
        """How much data supports each prediction, 0-1, as the product of three parts:

        - quality: the model's validation AUC mapped linearly from 0.5 -> 0 to 0.85 -> 1;
        - support: the median number of training rows that share this lead's leaf across the
          trees, full at ``SUPPORT_ROWS`` (the factor runs from 0.5 to 1);
        - coverage: 1 - 0.7 x the share of this lead's fields that training rarely or never saw
          (numbers far outside the 1st-99th percentile range, categories not seen).

        Prior models (too little history) are capped at ``PRIOR_CONFIDENCE_CAP``."""
        import numpy as np

        val_auc = float(self.report.get("validation", {}).get("auc") or 0.5)
        quality = min(max((val_auc - 0.5) / 0.35, 0.0), 1.0)
        if self.booster is not None and self.leaf_counts:
            leaves = np.asarray(self.booster.predict(tree, pred_leaf=True), dtype=int).reshape(
                len(tree), -1
            )
            counts = np.column_stack(
                [np.asarray(self.leaf_counts[t])[leaves[:, t]] for t in range(leaves.shape[1])]
            )
            support = np.minimum(np.median(counts, axis=1) / SUPPORT_ROWS, 1.0)
        else:
            support = np.full(len(tree), min(1.0, self.report.get("labelled_rows", 0) / 500))
        coverage = 1.0 - 0.7 * unusual_share(tree, self.features)
        conf = quality * (0.5 + 0.5 * support) * coverage
        if self.kind == "prior":
            conf = np.minimum(conf, PRIOR_CONFIDENCE_CAP)
        return np.asarray(np.round(conf, 3), dtype="float64")

    def contributions(self, tree: pd.DataFrame, matrix: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The source fields, and per lead the log-odds each adds against an average lead. The
        period key's share is split evenly between the context fields it combines."""
        import numpy as np

        parts = {c.name: c.parts for c in self.columns if c.kind == "period"}
        sources = sorted({f.source for f in self.features if f.source not in parts})
        index = {name: k for k, name in enumerate(sources)}

        def grouping(owners: list[str]) -> np.ndarray:
            group = np.zeros((len(owners), len(sources)))
            for row, owner in enumerate(owners):
                for name in parts.get(owner, [owner]):
                    group[row, index[name]] = 1.0 / len(parts.get(owner, [owner]))
            return group

        out = np.zeros((len(tree), len(sources)))
        if self.coef:
            lin = (matrix - np.asarray(self.linear_means)) * np.asarray(self.coef)
            out += lin @ grouping(self._owners())
        if self.booster is not None and len(tree):
            trees = [f for f in self.features if not f.linear_only]
            contrib = np.asarray(self.booster.predict(tree, pred_contrib=True))[:, : len(trees)]
            out += contrib @ grouping([f.source for f in trees])
        return sources, out

    def _owners(self) -> list[str]:
        owners: list[str] = []
        for f in self.features:
            if f.kind == "num":
                owners += [f.source] * (2 if f.has_missing else 1)
            else:
                owners += [f.source] * len(f.categories)
        return owners

    def score(self, frame: pd.DataFrame, *, top: int = 5) -> list[dict[str, Any]]:
        """Score each row: probability, score, confidence and the ``top`` reasons behind it."""
        import numpy as np

        tree, matrix = self._inputs(frame)
        probs = self.calibrator(self._logits(tree, matrix))
        conf = self.confidence(tree)
        sources, contrib = (
            self.contributions(tree, matrix) if top else ([], np.zeros((len(tree), 0)))
        )
        base_p = float(self.calibrator(np.array([self.base_logit]))[0])
        # Points: the score change each field alone makes for an otherwise average lead.
        points = np.rint(
            100
            * (self.calibrator((self.base_logit + contrib).ravel()).reshape(contrib.shape) - base_p)
        )
        records = frame.to_dict("records")
        rows = []
        for i, record in enumerate(records):
            reasons = []
            for k in np.argsort(-np.abs(points[i]), kind="stable")[:top]:
                source, value = sources[k], int(points[i, k])
                raw: Any = record.get(source)
                shown = format_value(raw.item() if hasattr(raw, "item") else raw)
                sign = f"+{value}" if value > 0 else str(value)
                reasons.append(
                    ScoreComponent(
                        field=source,
                        value=shown,
                        points=value,
                        direction="up" if value > 0 else "down" if value < 0 else "neutral",
                        explanation=f"{display(source)} is {shown}: {sign}",
                    )
                )
            rows.append(
                {
                    "probability": float(probs[i]),
                    "score": round(100 * float(probs[i])),
                    "confidence": float(conf[i]),
                    "reasoning": reasons,
                }
            )
        return rows

    # --- persistence ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The model as JSON (stored in Firestore, chunked, or in a folder by the CLI)."""
        from dataclasses import asdict

        return {
            "format": 1,
            "version": self.version,
            "kind": self.kind,
            "target": self.target,
            "positive": self.positive,
            "id_column": self.id_column,
            "columns": [asdict(c) for c in self.columns],
            "features": to_json(self.features),
            "coef": self.coef,
            "intercept": self.intercept,
            "calibrator": asdict(self.calibrator),
            "linear_means": self.linear_means,
            "base_logit": self.base_logit,
            "leaf_counts": self.leaf_counts,
            "report": self.report,
            "booster": self.booster.model_to_string() if self.booster is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LeadModel:
        """A model read back from :meth:`to_json`."""
        booster = None
        if data.get("booster"):
            import lightgbm

            booster = lightgbm.Booster(model_str=data["booster"])
        return cls(
            version=data["version"],
            kind=data["kind"],
            target=data["target"],
            positive=data["positive"],
            id_column=data["id_column"],
            columns=[ColumnSpec(**c) for c in data["columns"]],
            features=from_json(data["features"]),
            coef=data["coef"],
            intercept=data["intercept"],
            calibrator=Calibrator(**data["calibrator"]),
            linear_means=data["linear_means"],
            base_logit=data["base_logit"],
            booster=booster,
            leaf_counts=data["leaf_counts"],
            report=data["report"],
        )

    def save(self, folder: Path) -> None:
        """Write the model and its report to ``folder`` (the offline CLI)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.json").write_text(json.dumps(self.to_json()))
        (folder / "report.json").write_text(json.dumps(self.report, indent=2, default=str))

    @classmethod
    def load(cls, folder: Path) -> LeadModel:
        """A model saved by :meth:`save`."""
        return cls.from_json(json.loads((folder / "model.json").read_text()))
