"""Context fields: what describes *when* a lead was worked rather than the lead itself.

Training rows come oldest first (the read model sorts them by creation time; the command line
keeps the file's order). A field whose value stays the same over long runs of consecutive rows
(the month of a campaign, an economic index published monthly, the weekday) changes far less
often than it would if rows were shuffled: its value changes at most ``CONTEXT_RATIO`` as often as
shuffled rows would. Such fields tell the model about periods, and every future lead falls in a
period training never saw.

The discrete context fields (at most ``MAX_CATEGORIES`` values each) are combined into one
*period* key that the logistic part gets as a category of its own, i.e. period fixed effects: each
period's own conversion level goes into its category, so the coefficients of the lead's fields
are estimated *within* periods (not confounded by when leads were worked) and the context fields'
numeric coefficients keep only the trend across periods, which is what carries over to a new
period. A new lead's period is usually unseen and adds nothing. The trees do not get the key.

On rows in no particular order no field is a context field and nothing changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.capabilities.scoring.columns import MAX_CATEGORIES, MIN_CATEGORY_ROWS, ColumnSpec

if TYPE_CHECKING:
    import pandas as pd

PERIOD = "__period__"
CONTEXT_RATIO = 0.05
MIN_ROWS = 500  # fewer rows than this are too few to tell runs from chance
KEY_KINDS = ("numeric", "boolean", "categorical")


def change_ratio(values: pd.Series) -> float | None:
    """How often the value changes between consecutive rows, against how often it would if the
    rows were shuffled (1 - the sum of squared value shares); None for a constant column."""
    text = values.astype("string").fillna("\0missing")
    shares = text.value_counts(normalize=True).to_numpy()
    shuffled = 1.0 - float((shares**2).sum())
    if shuffled <= 0 or len(text) < 2:
        return None
    changes = float((text.iloc[1:].to_numpy() != text.iloc[:-1].to_numpy()).mean())
    return changes / shuffled


def period_values(frame: pd.DataFrame, parts: list[ColumnSpec]) -> pd.Series:
    """Each row's period key: its context fields' values joined (numbers written the same way
    whether they arrive as integers, floats or strings)."""
    from shared.capabilities.scoring.features import raw_features

    raw = raw_features(frame, parts)
    pieces = []
    for spec in parts:
        values = raw[spec.name]
        if spec.kind == "numeric":
            values = values.map(lambda v: "?" if v != v else f"{v:.6g}")
        pieces.append(values.astype("string").fillna("?"))
    key = pieces[0]
    for piece in pieces[1:]:
        key = key + " | " + piece
    return key.astype("string")


def find_period(
    frame: pd.DataFrame, columns: list[ColumnSpec]
) -> tuple[ColumnSpec | None, dict[str, Any]]:
    """The period key over ``frame``'s context fields, and what the training report says of it."""
    if len(frame) < MIN_ROWS:
        return None, {}
    ratios = {
        spec.name: ratio
        for spec in columns
        if spec.kind in KEY_KINDS and (ratio := change_ratio(frame[spec.name])) is not None
    }
    context = sorted(name for name, ratio in ratios.items() if ratio <= CONTEXT_RATIO)
    if not context:
        return None, {}
    parts = [
        spec
        for spec in columns
        if spec.name in context and frame[spec.name].nunique() <= MAX_CATEGORIES
    ]
    report: dict[str, Any] = {
        "context_fields": {name: round(ratios[name], 4) for name in context},
        "period_key": [spec.name for spec in parts],
    }
    if not parts:
        return None, report
    counts = period_values(frame, parts).value_counts()
    kept = sorted(str(v) for v, n in counts.items() if n >= MIN_CATEGORY_ROWS)
    report["periods"] = len(counts)
    report["periods_kept"] = len(kept)
    if len(kept) < 2:
        return None, report
    return ColumnSpec(PERIOD, "period", categories=kept, parts=report["period_key"]), report
