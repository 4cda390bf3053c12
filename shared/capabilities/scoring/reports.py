"""What the scoring capability reports to its callers (the API answers these as they are, and
the Scheduler's jobs log them): training's decision, and an A/B test's comparison of champion
and challenger. Figures a sample is too small for are null (an AUC needs both outcomes)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.capabilities.scoring.registry import Assignment
from shared.core.web.contract import ResponseBody


class TrainReport(ResponseBody):
    """What training did: the new version, its figures, and whether it was promoted (and why)."""

    version: str = Field(description="The version just trained and saved")
    kind: str = Field(description="The model family, e.g. logistic")
    metrics: dict[str, Any] = Field(description="Its validation figures (AUC, ECE, lift)")
    promoted: bool = Field(description="Whether it is now the champion")
    reason: str = Field(description="Why it was or was not promoted")
    champion: str | None = Field(default=None, description="The champion it was compared with")
    holdout_rows: int | None = Field(
        default=None, description="Recent outcomes both were scored on"
    )
    candidate_auc: float | None = None
    champion_auc: float | None = None


class ArmFigures(ResponseBody):
    """One arm on the held-out leads: AUC with a bootstrap 95 % interval, calibration, lift."""

    auc: float | None
    auc_95ci: list[float]
    ece: float | None
    top_decile_lift: float | None


class Holdout(ResponseBody):
    """Champion and challenger on the newest fifth of labelled leads, which neither trained on."""

    rows: int
    champion: ArmFigures
    challenger: ArmFigures
    auc_difference: float | None = Field(description="Challenger's AUC minus the champion's")
    auc_difference_95ci: list[float]


class ArmLive(ResponseBody):
    """The leads one arm scored since the test began, by known outcome."""

    scored: int
    won: int
    lost: int
    conversion_rate: float | None
    conversion_95ci: list[float]


class AbTestReport(ResponseBody):
    """The running test: the assignment and how each arm does (no figures without a test)."""

    assignment: Assignment
    holdout: Holdout | None = None
    live: dict[str, ArmLive] | None = Field(
        default=None, description="By arm: champion, challenger"
    )
