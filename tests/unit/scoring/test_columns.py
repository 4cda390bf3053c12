from __future__ import annotations

import pandas as pd

from shared.capabilities.scoring.columns import (
    clean,
    display,
    format_value,
    infer,
    post_outcome_name,
)


def test_placeholders_become_missing() -> None:
    cleaned = clean(pd.Series(["Select", " web ", "unknown", "", "N/A", "referral"]))
    assert cleaned.isna().tolist() == [True, False, True, True, True, False]
    assert cleaned[1] == "web"


def test_kinds_are_inferred() -> None:
    frame = pd.DataFrame(
        {
            "n": ["1", "2.5", "3", None, "4"] * 20,
            "b": ["yes", "no", "yes", "no", None] * 20,
            "d": ["2025-01-02", "2025-02-03", "2025-03-04", "2025-04-05", "2025-05-06"] * 20,
            "c": ["a", "b", "a", "c", "b"] * 20,
            "t": [
                f"a long free text note number {i} about the customer's needs" for i in range(100)
            ],
            "id": [f"x{i}" for i in range(100)],
            "const": ["k"] * 100,
        }
    )
    specs, dropped = infer(pd.DataFrame({c: clean(frame[c]) for c in frame}))
    kinds = {s.name: s.kind for s in specs}
    assert kinds == {"n": "numeric", "b": "boolean", "d": "date", "c": "categorical", "t": "text"}
    assert {d.name for d in dropped} == {"id", "const"}


def test_post_outcome_names_and_display() -> None:
    assert (
        post_outcome_name("duration")
        and post_outcome_name("call_duration")
        and post_outcome_name("close_date")
    )
    assert post_outcome_name("closed_at") and not post_outcome_name("closest_office")
    assert not post_outcome_name("engage_date") and not post_outcome_name("minutes_on_site")
    assert display("minutes_on_site") == "Minutes on site"
    assert (
        format_value(float("nan")) == "unknown"
        and format_value(1234.0) == "1,234"
        and format_value(0.5) == "0.5"
    )
