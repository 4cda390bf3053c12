"""Checks on the team kit's real data; skipped where ../shared/data is absent."""

from __future__ import annotations

import pytest

from devstack.procs import REPO
from shared.capabilities.scoring.metrics import summary
from shared.capabilities.scoring.training import labels, train

BANK = REPO.parent / "shared/data/bank-marketing/bank-additional-full.csv"


@pytest.mark.skipif(
    not BANK.exists(),
    reason="../shared/data/bank-marketing is absent (team kit not beside the project)",
)
def test_bank_marketing_duration_is_caught_as_a_leak_and_the_model_ranks() -> None:
    import pandas as pd

    frame = pd.read_csv(BANK, sep=";").sample(12_000, random_state=1)
    model = train(frame.iloc[:10_000], target="y", positive="yes")
    assert any(e["field"] == "duration" for e in model.report["excluded"])
    test, y = labels(frame.iloc[10_000:], "y", "yes")
    assert summary(y, model.predict_proba(test))["auc"] > 0.7
