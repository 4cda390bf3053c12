"""Context fields and the period key (shared/capabilities/scoring/context.py) on generated, time-ordered leads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from shared.capabilities.scoring import context
from shared.capabilities.scoring.context import PERIOD, change_ratio, find_period
from shared.capabilities.scoring.model import LeadModel
from shared.capabilities.scoring.training import train

if TYPE_CHECKING:
    from pathlib import Path

MONTHS = 16
PER_MONTH = 450
TRAIN_MONTHS = 12
QUARTERS = ["q1", "q2", "q3", "q4"]


def campaign_leads(seed: int = 5) -> Any:
    """Leads worked month by month, oldest first. Each month has its own conversion level and a
    published rate that trends down as conversion trends up; in good months the team phoned more
    leads, but within any month a phoned lead converts *less* than an emailed one. A model that
    does not tell months apart learns that phoning helps."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frames = []
    for month in range(MONTHS):
        level = rng.normal(0, 0.9)
        rate = round(5.0 - 0.25 * month + rng.normal(0, 0.05), 2)
        n = PER_MONTH
        phone_share = 1 / (1 + np.exp(-2 * level))
        channel = np.where(rng.random(n) < phone_share, "phone", "email")
        visits = rng.poisson(3, n)
        logit = -1.5 + level - 0.4 * (rate - 3) - 1.0 * (channel == "phone") + 0.35 * (visits - 3)
        won = rng.random(n) < 1 / (1 + np.exp(-logit))
        frames.append(
            pd.DataFrame(
                {
                    "lead_id": [f"m{month}-{i}" for i in range(n)],
                    "quarter": QUARTERS[month % 4],
                    "published_rate": rate,
                    "channel": channel,
                    "visits": visits,
                    "age": rng.integers(20, 70, n),
                    "outcome": np.where(won, "won", "lost"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def leads() -> Any:
    return campaign_leads()


@pytest.fixture(scope="module")
def model(leads: Any) -> LeadModel:
    return train(
        leads.iloc[: TRAIN_MONTHS * PER_MONTH],
        target="outcome",
        positive="won",
        id_column="lead_id",
    )


def test_change_ratio_tells_runs_from_shuffled_values(leads: Any) -> None:
    runs, mixed = change_ratio(leads["quarter"]), change_ratio(leads["channel"])
    assert runs is not None and runs < 0.01
    assert mixed is not None and mixed > 0.5
    shuffled = change_ratio(leads.sample(frac=1.0, random_state=1)["quarter"])
    assert shuffled is not None and shuffled > 0.5
    assert change_ratio(leads["lead_id"].iloc[:1]) is None  # one row: nothing to compare


def test_the_period_key_combines_the_discrete_context_fields(leads: Any) -> None:
    from shared.capabilities.scoring.columns import clean, infer

    frame = leads.drop(columns=["outcome", "lead_id"])
    columns, _ = infer(frame.apply(clean))
    spec, report = find_period(frame, columns)
    assert spec is not None and spec.kind == "period" and spec.name == PERIOD
    assert spec.parts == ["quarter", "published_rate"]
    assert set(report["context_fields"]) == {"quarter", "published_rate"}
    assert report["periods"] == MONTHS and len(spec.categories) == MONTHS
    # In no particular order, or with too few rows, nothing is context.
    assert find_period(frame.sample(frac=1.0, random_state=2), columns) == (None, {})
    assert find_period(frame.iloc[: context.MIN_ROWS - 1], columns) == (None, {})


def test_the_key_is_for_the_logistic_part_only_and_reasons_name_real_fields(
    model: LeadModel, leads: Any, tmp_path: Path
) -> None:
    assert model.report["context"]["period_key"] == ["quarter", "published_rate"]
    assert "quarter" in model.report["columns"] and PERIOD not in model.report["columns"]
    period = [f for f in model.features if f.source == PERIOD]
    assert len(period) == 1 and period[0].linear_only
    assert model.booster is not None
    assert model.booster.num_feature() == len(model.features) - 1
    # A lead from a month training never saw scores, with reasons in the tenant's fields only.
    lead = leads.iloc[[len(leads) - 1]]
    scored = model.score(lead, top=10)[0]
    fields = {r.field for r in scored["reasoning"]}
    assert PERIOD not in fields and fields <= set(model.report["columns"])
    model.save(tmp_path / "m")
    again = LeadModel.load(tmp_path / "m").score(lead, top=10)[0]
    assert again["probability"] == pytest.approx(scored["probability"])
    # The same values written differently (strings, floats) fall in the same period.
    typed = leads.iloc[:3].astype({"published_rate": "string"})
    assert model.predict_proba(typed) == pytest.approx(model.predict_proba(leads.iloc[:3]))


def test_period_effects_estimate_a_confounded_field_within_periods(
    model: LeadModel, leads: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    monkeypatch.setattr(context, "CONTEXT_RATIO", -1.0)  # no field counts as context
    blind = train(
        leads.iloc[: TRAIN_MONTHS * PER_MONTH],
        target="outcome",
        positive="won",
        id_column="lead_id",
    )
    assert "context" not in blind.report

    def phoning(m: LeadModel) -> float:
        """What the logistic part adds to the log-odds for phoning a lead instead of emailing."""
        pair = leads.iloc[[len(leads) - 1] * 2].assign(channel=["phone", "email"])
        _, matrix = m._inputs(pair)
        linear = matrix @ np.asarray(m.coef)
        return float(linear[0] - linear[1])

    # The generating effect is -1.0; the month levels pull a model that ignores them upwards.
    assert phoning(model) < -0.6
    assert phoning(model) < phoning(blind) - 0.3
