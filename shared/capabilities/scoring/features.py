"""Turning a tenant's cleaned columns into model inputs, the same way at training and scoring.

Each source column yields one or more features (a date gives its month and weekday; free text its
length and word count); every feature remembers its source so explanations speak of the tenant's
own fields. Two views come out of one spec: a frame for the trees (categories as pandas
categoricals, missing left missing) and a dense matrix for the logistic part (one-hot, imputed,
standardised, with missing indicators).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from shared.capabilities.scoring.columns import ColumnSpec, clean

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

OTHER = "__other__"


@dataclass
class Feature:
    """A model input derived from a column: numeric, or one category of a categorical column."""

    name: str
    source: str
    kind: Literal["num", "cat"]
    categories: list[str] = field(default_factory=list)
    median: float = 0.0
    mean: float = 0.0
    std: float = 1.0
    has_missing: bool = False
    low: float | None = None  # 1st and 99th percentiles seen in training
    high: float | None = None
    linear_only: bool = (
        False  # the period key (shared/capabilities/scoring/context.py): not for the trees
    )


def _bool_text(series: pd.Series) -> pd.Series:
    import pandas as pd

    from shared.capabilities.scoring.columns import TRUE

    low = series.astype("string").str.lower()
    return pd.Series(
        ["yes" if t else "no" for t in low.isin(TRUE)], index=series.index, dtype="string"
    ).where(low.notna())


def raw_features(frame: pd.DataFrame, columns: list[ColumnSpec]) -> dict[str, pd.Series]:
    """The derived feature values (before encoding), keyed by feature name."""
    import pandas as pd

    out: dict[str, pd.Series] = {}
    for spec in columns:
        if spec.kind == "period":
            from shared.capabilities.scoring.context import period_values

            by_name = {c.name: c for c in columns}
            out[spec.name] = period_values(frame, [by_name[p] for p in spec.parts])
            continue
        col = (
            clean(frame[spec.name])
            if spec.name in frame
            else pd.Series([None] * len(frame), index=frame.index)
        )
        if spec.kind == "numeric":
            out[spec.name] = pd.to_numeric(col, errors="coerce").astype("float64")
        elif spec.kind == "boolean":
            out[spec.name] = _bool_text(col)
        elif spec.kind == "categorical":
            out[spec.name] = col.astype("string")
        elif spec.kind == "date":
            when = pd.to_datetime(col, errors="coerce", format="mixed")
            out[f"{spec.name}__month"] = when.dt.month.astype("Int64").astype("string")
            out[f"{spec.name}__weekday"] = when.dt.day_of_week.astype("Int64").astype("string")
        else:  # text
            text = col.astype("string").fillna("")
            out[f"{spec.name}__length"] = text.str.len().astype("float64")
            out[f"{spec.name}__words"] = text.str.split().str.len().fillna(0).astype("float64")
    return out


def fit_features(frame: pd.DataFrame, columns: list[ColumnSpec]) -> list[Feature]:
    """The features of ``columns`` learnt from the training frame."""
    import pandas as pd

    features: list[Feature] = []
    sources = {s.name: s for s in columns}
    for name, values in raw_features(frame, columns).items():
        source = name.split("__", 1)[0] if name not in sources else name
        if pd.api.types.is_float_dtype(values):
            median = float(values.median()) if values.notna().any() else 0.0
            filled = values.fillna(median)
            std = float(filled.std()) or 1.0
            features.append(
                Feature(
                    name,
                    source,
                    "num",
                    median=median,
                    mean=float(filled.mean()),
                    std=std,
                    has_missing=bool(values.isna().any()),
                    low=float(values.quantile(0.01)) if values.notna().any() else None,
                    high=float(values.quantile(0.99)) if values.notna().any() else None,
                )
            )
        else:
            spec = sources[source]
            counts = values.value_counts()
            if spec.kind in ("categorical", "period") and spec.categories:
                kept = [c for c in spec.categories if c in counts.index]
            else:
                kept = sorted(str(v) for v in counts.index)
            features.append(
                Feature(
                    name,
                    source,
                    "cat",
                    categories=[*kept, OTHER],
                    has_missing=bool(values.isna().any()),
                    linear_only=spec.kind == "period",
                )
            )
    return features


def tree_frame(
    frame: pd.DataFrame, columns: list[ColumnSpec], features: list[Feature]
) -> pd.DataFrame:
    """The frame the tree model reads: one column per feature, categories as pandas categoricals."""
    import pandas as pd

    raw = raw_features(frame, columns)
    data: dict[str, Any] = {}
    for f in features:
        values = raw[f.name]
        if f.kind == "num":
            data[f.name] = values.astype("float64")
        else:
            known = values.where(values.isin(f.categories) | values.isna(), OTHER)
            data[f.name] = pd.Categorical(
                known.astype("object").where(known.notna(), None), categories=f.categories
            )
    return pd.DataFrame(data, index=frame.index)


def booster_frame(tree: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    """The trees' inputs: :func:`tree_frame` without the features only the logistic part uses."""
    linear_only = [f.name for f in features if f.linear_only]
    return tree.drop(columns=linear_only) if linear_only else tree


def linear_matrix(tree: pd.DataFrame, features: list[Feature]) -> tuple[np.ndarray, list[str]]:
    """The logistic model's inputs and, per column, the source field it belongs to."""
    import numpy as np

    blocks: list[np.ndarray] = []
    owners: list[str] = []
    for f in features:
        col = tree[f.name]
        if f.kind == "num":
            values = col.to_numpy(dtype="float64")
            missing = np.isnan(values)
            blocks.append(((np.where(missing, f.median, values) - f.mean) / f.std)[:, None])
            owners.append(f.source)
            if f.has_missing:
                blocks.append(missing.astype("float64")[:, None])
                owners.append(f.source)
        else:
            codes = col.cat.codes.to_numpy()
            onehot = np.zeros((len(col), len(f.categories)))
            rows = np.nonzero(codes >= 0)[0]
            onehot[rows, codes[rows]] = 1.0
            blocks.append(onehot)
            owners += [f.source] * len(f.categories)
    matrix = np.hstack(blocks) if blocks else np.zeros((len(tree), 0))
    return matrix, owners


def to_json(features: list[Feature]) -> list[dict[str, Any]]:
    """Features as stored with a model."""
    return [asdict(f) for f in features]


def from_json(rows: list[dict[str, Any]]) -> list[Feature]:
    """Features read back from a stored model."""
    return [Feature(**row) for row in rows]


def unusual_share(tree: pd.DataFrame, features: list[Feature]) -> np.ndarray:
    """Per row, the share of source fields whose value training rarely or never saw: a number
    outside the 1st-99th percentile range, or a category that was not kept from training."""
    import numpy as np

    described = [f for f in features if not f.linear_only]  # the period key's fields count alone
    sources = sorted({f.source for f in described})
    flags = {s: np.zeros(len(tree), dtype=bool) for s in sources}
    for f in described:
        col = tree[f.name]
        if f.kind == "num" and f.low is not None and f.high is not None:
            values = col.to_numpy(dtype="float64")
            span = (f.high - f.low) or 1.0
            flags[f.source] |= (values < f.low - 0.1 * span) | (values > f.high + 0.1 * span)
        elif f.kind == "cat":
            flags[f.source] |= (col == OTHER).to_numpy(dtype=bool, na_value=False)
    if not sources:
        return np.zeros(len(tree))
    return np.asarray(np.mean(np.vstack([flags[s] for s in sources]), axis=0), dtype="float64")
