"""What a tenant's columns are: inferred kinds, placeholder values read as missing, and the
columns that must not be used (identifiers, constants, leaks)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["numeric", "boolean", "categorical", "date", "text", "period"]

PLACEHOLDERS = {
    "",
    "select",
    "unknown",
    "n/a",
    "na",
    "none",
    "null",
    "nil",
    "-",
    "--",
    "?",
    "nan",
    "not specified",
    "not provided",
    "undefined",
    "(blank)",
}
TRUE = {"yes", "y", "true", "t", "1"}
FALSE = {"no", "n", "false", "f", "0"}
MAX_CATEGORIES = 50  # more distinct values than this keep the frequent ones and pool the rest
MIN_CATEGORY_ROWS = 20
TEXT_MIN_MEAN_LENGTH = 40


@dataclass
class ColumnSpec:
    """How one input column is read: its kind, kept categories and median, fixed at training so
    scoring reads rows the same way."""

    name: str
    kind: Kind
    categories: list[str] = field(default_factory=list)  # kept values (categorical, boolean)
    median: float | None = None  # numeric imputation and reference
    missing_rate: float = 0.0
    parts: list[str] = field(default_factory=list)  # period only: the context fields it combines


@dataclass
class Dropped:
    """A column training left out, and why (constant, an identifier, a leak)."""

    name: str
    reason: str


def clean(series: pd.Series) -> pd.Series:
    """Strings stripped, and placeholder values ("Select", "unknown", "") made missing."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return series
    text = series.astype("string").str.strip()
    return text.mask(text.str.lower().isin(PLACEHOLDERS))


def _as_bool(values: pd.Series) -> pd.Series | None:
    lowered = values.dropna().astype("string").str.lower()
    if lowered.empty or not set(lowered.unique()) <= TRUE | FALSE:
        return None
    if len(set(lowered.unique())) > 2:
        return None
    low = values.astype("string").str.lower()
    return low.isin(TRUE).astype("float64").where(low.notna())


def _looks_like_date(values: pd.Series) -> bool:
    sample = values.dropna().astype("string").head(200)
    return bool(len(sample)) and bool(
        sample.str.match(r"^\d{4}-\d{1,2}-\d{1,2}|^\d{1,2}/\d{1,2}/\d{2,4}").mean() > 0.95
    )


def infer(frame: pd.DataFrame) -> tuple[list[ColumnSpec], list[Dropped]]:
    """Infer each column's kind from its values (already :func:`clean`-ed)."""
    import pandas as pd

    specs: list[ColumnSpec] = []
    dropped: list[Dropped] = []
    rows = len(frame)
    for name in frame.columns:
        col = frame[name]
        present = col.dropna()
        missing = 1 - len(present) / rows if rows else 1.0
        if present.nunique() <= 1:
            dropped.append(Dropped(name, "has a single value (no signal)"))
            continue
        if _as_bool(col) is not None:
            specs.append(ColumnSpec(name, "boolean", missing_rate=missing))
            continue
        numeric = pd.to_numeric(present, errors="coerce")
        if numeric.notna().mean() >= 0.95:
            specs.append(
                ColumnSpec(name, "numeric", median=float(numeric.median()), missing_rate=missing)
            )
            continue
        if _looks_like_date(present):
            specs.append(ColumnSpec(name, "date", missing_rate=missing))
            continue
        text = present.astype("string")
        unique_ratio = present.nunique() / len(present)
        if text.str.len().mean() >= TEXT_MIN_MEAN_LENGTH and unique_ratio > 0.5:
            specs.append(ColumnSpec(name, "text", missing_rate=missing))
            continue
        if unique_ratio > 0.9 and present.nunique() > MAX_CATEGORIES:
            dropped.append(Dropped(name, "looks like an identifier (almost every value is unique)"))
            continue
        counts = text.value_counts()
        kept = [
            str(v) for v, n in counts.items() if n >= min(MIN_CATEGORY_ROWS, max(2, rows // 100))
        ]
        specs.append(
            ColumnSpec(
                name, "categorical", categories=sorted(kept[:MAX_CATEGORIES]), missing_rate=missing
            )
        )
    return specs, dropped


# Names of fields that are only known once the outcome is (call duration, close date, won/lost).
_POST_OUTCOME = re.compile(
    r"(^|[_\s.-])(duration|outcome|result|closed?(_?(at|date|value|reason))?|close_value|won|lost|"
    r"converted(_?(at|date))?|conversion_date|win_reason|loss_reason|lost_reason)($|[_\s.-])",
    re.IGNORECASE,
)


def post_outcome_name(name: str) -> bool:
    """Whether a column's name says it is only known after the outcome (closed date, won reason): a
    leak."""
    return bool(_POST_OUTCOME.search(name))


def display(name: str) -> str:
    """A field name as a sales rep reads it: ``days_since_contact`` -> ``Days since contact``."""
    words = re.sub(r"[_.\-]+", " ", name).strip()
    return words[:1].upper() + words[1:] if words else name


def format_value(value: Any) -> str:
    """A value as an explanation shows it to a person."""
    if value is None or (isinstance(value, float) and value != value):
        return "unknown"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)
