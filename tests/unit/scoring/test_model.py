from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from devstack.demo_leads import make_leads, true_logit
from shared.capabilities.scoring.metrics import auc, summary
from shared.capabilities.scoring.model import PRIOR_CONFIDENCE_CAP, LeadModel
from shared.capabilities.scoring.training import labels, train
from shared.core.errors import InvalidInput

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def data() -> Any:
    return make_leads(4000)


@pytest.fixture(scope="module")
def model(data: Any) -> LeadModel:
    return train(data.iloc[:3000], target="status", positive="converted", id_column="lead_id")


def test_the_model_learns_the_signal_and_is_calibrated(model: LeadModel, data: Any) -> None:
    test, y = labels(data.iloc[3000:], "status", "Converted")
    p = model.predict_proba(test)
    figures = summary(y, p)
    best = auc(y, true_logit(test))
    assert figures["auc"] > best - 0.05  # close to the generating model's own ranking
    assert figures["ece"] < 0.06
    assert figures["lift_by_decile"][0]["lift"] > 1.8
    assert model.kind == "tenant" and not model.report["insufficient_history"]


def test_leaks_are_left_out_with_reasons(model: LeadModel) -> None:
    reasons = {e["field"]: e["reason"] for e in model.report["excluded"]}
    assert "only known after the outcome" in reasons["call_duration"]
    assert "almost perfectly" in reasons["final_stage"]
    assert (
        "call_duration" not in model.report["columns"]
        and "final_stage" not in model.report["columns"]
    )


def test_scores_carry_reasons_in_the_tenants_own_fields(model: LeadModel, data: Any) -> None:
    lead = data.iloc[[3001]].copy()
    lead["visited_pricing"] = "yes"
    lead["source"] = "referral"
    hot = model.score(lead)[0]
    lead["visited_pricing"] = "no"
    lead["source"] = "cold_call"
    cold = model.score(lead)[0]
    assert hot["score"] > cold["score"]
    assert hot["score"] == round(100 * hot["probability"])
    fields = {r.field: r for r in hot["reasoning"]}
    assert fields["visited_pricing"].points > 0 and fields["visited_pricing"].direction == "up"
    assert (
        fields["visited_pricing"].explanation
        == f"Visited pricing is yes: +{fields['visited_pricing'].points}"
    )
    assert {r.field for r in hot["reasoning"]} <= set(data.columns)


def test_confidence_is_lower_far_from_the_training_data(model: LeadModel, data: Any) -> None:
    typical = data.iloc[[3002]].copy()
    odd = typical.copy()
    odd["employees"] = 1e9
    odd["minutes_on_site"] = 5000.0
    odd["source"] = "carrier pigeon"
    a, b = model.score(typical)[0]["confidence"], model.score(odd)[0]["confidence"]
    assert 0 < b < a <= 1


def test_too_little_history_gives_a_flagged_prior(data: Any) -> None:
    small = train(data.iloc[:150], target="status", positive="converted", id_column="lead_id")
    assert small.kind == "prior" and small.report["insufficient_history"]
    assert all(r["confidence"] <= PRIOR_CONFIDENCE_CAP for r in small.score(data.iloc[3000:3050]))
    tiny = train(data.iloc[:12], target="status", positive="converted", id_column="lead_id")
    assert tiny.kind == "prior" and "base rate" in tiny.report["model"]
    assert len({r["score"] for r in tiny.score(data.iloc[3000:3010])}) == 1


def test_saved_models_score_the_same(model: LeadModel, data: Any, tmp_path: Path) -> None:
    model.save(tmp_path / "m")
    loaded = LeadModel.load(tmp_path / "m")
    sample = data.iloc[3100:3200]
    assert loaded.score(sample) == model.score(sample)


def test_bad_arguments_name_the_field(data: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        train(data, target="nope", positive="x")
    assert info.value.field == "target"
    with pytest.raises(InvalidInput) as info:
        train(data, target="status", positive="converted", exclude=["missing_col"])
    assert info.value.field == "exclude"


def test_calibration_keeps_the_ranking_of_distinct_scores() -> None:
    import numpy as np

    from shared.capabilities.scoring.model import Calibrator
    from shared.capabilities.scoring.training import _calibrate

    rng = np.random.default_rng(3)
    logits = rng.normal(size=5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-(2 * logits - 1)))).astype(int)
    calibrator = _calibrate(logits, y)
    assert calibrator.kind == "isotonic"
    grid = np.linspace(-4, 4, 2001)  # past both ends of what it was fitted on (about +-2.7)
    p = calibrator(grid)
    assert np.all(np.diff(p) > 0)  # strictly increasing: no ties, so no lost ranking
    assert abs(float(calibrator(np.array([0.5]))[0]) - 0.5) < 0.06  # and still calibrated
    # A calibrator stored before the tail existed still loads and clips as it did.
    old = Calibrator("isotonic", x=[-1.0, 1.0], y=[0.2, 0.8])
    assert list(old(np.array([-5.0, 5.0]))) == [0.2, 0.8]
