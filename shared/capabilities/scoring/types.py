"""The records the scoring API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ScoreComponent(BaseModel):
    """One reason behind a score, in the tenant's own field names."""

    field: str
    value: Any = None
    points: int  # change in score this field makes for this lead, against an average lead
    direction: Literal["up", "down", "neutral"]
    explanation: str  # "Previous outcome is success: +18"


class LeadScoreResult(BaseModel):
    """A lead's score (0-100, a calibrated probability x 100), its confidence, the factors that
    explain it and the model version that gave it."""

    lead_id: str
    score: int = Field(ge=0, le=100)  # calibrated conversion probability x 100
    probability: float
    confidence: float = Field(ge=0, le=1)
    reasoning: list[ScoreComponent] = Field(default_factory=list)
    model_version: str
    model_kind: Literal["tenant", "prior"]
    insufficient_history: bool = False
    scored_at: datetime | None = None
    expires_at: datetime | None = None
