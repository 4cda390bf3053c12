"""HTTP: lead scores and scoring models (``/api/v1/ai/scoring/...``).

- ``POST /leads`` {lead_id, fields?, force?}: score one lead (``scores:run``)
- ``POST /leads/batch`` {leads: [{lead_id, fields?}, ...]} up to 1,000, per-item errors (``scores:run``)
- ``GET /leads/{lead_id}``: the latest result with ``expires_at`` (``scores:read``)
- ``GET /models``: versions, metrics, champion and challenger (``scores:read``)
- ``POST /models/train``: train from the read model now; promote only if better (``models:manage``)
- ``POST /models/test`` {challenger, share} starts an A/B test, {} reports it (``models:manage``)
- ``POST /models/{version}/promote`` (``models:manage``)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from shared.capabilities.scoring import abtest
from shared.capabilities.scoring.registry import Assignment, ModelRecord, ModelRegistry
from shared.capabilities.scoring.reports import AbTestReport, TrainReport
from shared.capabilities.scoring.service import LeadScorer, train_from_read_model
from shared.capabilities.scoring.types import LeadScoreResult
from shared.core.auth.rbac import Permission
from shared.core.errors import AppError
from shared.core.web.contract import ErrorDetail, Fields, Id, Request, ResponseBody
from shared.core.web.http import Route

if TYPE_CHECKING:
    from shared.edge.http import Ctx

MAX_BATCH = 1000


class ScoreLead(Request):
    """Score one lead from the read model, or from the given field values."""

    lead_id: Id
    fields: Fields | None = Field(
        None, description="Score these values instead of the read model's record"
    )
    force: bool = Field(False, description="Score again even if a fresh score is stored")


class BatchLead(Request):
    """One lead of a batch, with optional field values to score instead."""

    lead_id: Id
    fields: Fields | None = None


class ScoreBatch(Request):
    """Up to 1,000 leads to score at once."""

    leads: list[BatchLead] = Field(min_length=1, max_length=MAX_BATCH)


class ItemError(ResponseBody):
    """Why one lead of a batch was not scored."""

    index: int = Field(description="Position in the request's leads")
    lead_id: str | None
    error: ErrorDetail


class BatchScores(ResponseBody):
    """A batch's scores, and an error for each lead that could not be scored."""

    results: list[LeadScoreResult]
    errors: list[ItemError]


class ModelList(ResponseBody):
    """The tenant's model versions and which of them serve."""

    assignment: Assignment = Field(description="Champion, challenger and traffic share")
    models: list[ModelRecord]


class AbTestBody(Request):
    """Start an A/B test of a challenger on a share of leads (or, without one, report on the running
    test)."""

    challenger: Id | None = Field(None, description="Start a test of this version")
    share: float = Field(0.1, gt=0, lt=1, description="Share of leads the challenger scores")


class DriftReport(ResponseBody):
    """The latest drift check of the champion (the hourly job): PSI per field and of the scores,
    realised accuracy once outcomes arrive, and the alerts raised; ``status`` "none" before the
    first check."""

    status: str
    model_version: str | None = None
    checked_at: str | None = None
    scored_leads: int = 0
    feature_psi: dict[str, float] = Field(default_factory=dict)
    score_psi: float | None = None
    realised: dict[str, Any] | None = None
    alerts: list[str] = Field(default_factory=list)


def get_drift(ctx: Ctx) -> tuple[DriftReport, int]:
    """``GET /api/v1/ai/scoring/drift``: The latest drift check of the champion model."""
    latest = ctx.scope.query(
        ctx.scope.path("scoring_drift"), order_by="checked_at", descending=True, limit=1
    )
    if not latest:
        return DriftReport(status="none"), 200
    return DriftReport.model_validate(latest[0][1]), 200


def _scorer(ctx: Ctx) -> LeadScorer:
    return LeadScorer(ctx.scope, publisher=ctx.services.publisher)


def score_one(ctx: Ctx) -> tuple[LeadScoreResult, int]:
    """``POST /api/v1/ai/scoring/leads``: Score one lead by id from the read model, or from fields
    in the body."""
    body = ctx.body(ScoreLead)
    result = _scorer(ctx).score(body.lead_id, body.fields, force=body.force)
    return result, 200


def score_batch(ctx: Ctx) -> tuple[BatchScores, int]:
    """``POST /api/v1/ai/scoring/leads/batch``: Score up to 1,000 leads; per-item errors."""
    leads = ctx.body(ScoreBatch).leads
    results: list[LeadScoreResult] = []
    errors: list[dict[str, Any]] = []
    outcomes = _scorer(ctx).score_many([(lead.lead_id, lead.fields) for lead in leads])
    for i, (lead, outcome) in enumerate(zip(leads, outcomes, strict=True)):
        if isinstance(outcome, AppError):
            errors.append({"index": i, "lead_id": lead.lead_id, "error": outcome.to_dict()})
        else:
            results.append(outcome)  # a model already: taken as it is, not checked again
    return BatchScores.model_validate({"results": results, "errors": errors}), 200


def get_score(ctx: Ctx) -> tuple[LeadScoreResult, int]:
    """``GET /api/v1/ai/scoring/leads/{lead_id}``: The latest score of a lead, with expires_at."""
    return _scorer(ctx).latest(ctx.params["lead_id"]), 200


def list_models(ctx: Ctx) -> tuple[ModelList, int]:
    """``GET /api/v1/ai/scoring/models``: Model versions, metrics, champion and challenger."""
    registry = ModelRegistry(ctx.scope)
    return ModelList(assignment=registry.assignment(), models=registry.list()), 200


def train_now(ctx: Ctx) -> tuple[TrainReport, int]:
    """``POST /api/v1/ai/scoring/models/train``: Train from the read model; promote only a better
    model."""
    return train_from_read_model(ctx.scope), 200


def ab_test(ctx: Ctx) -> tuple[AbTestReport, int]:
    """``POST /api/v1/ai/scoring/models/test``: Start or report an A/B test of a challenger against
    the champion."""
    body = ctx.body(AbTestBody)
    if body.challenger is not None:
        ModelRegistry(ctx.scope).start_test(body.challenger, body.share)
    return abtest.report(ctx.scope), 200


def promote(ctx: Ctx) -> tuple[Assignment, int]:
    """``POST /api/v1/ai/scoring/models/{version}/promote``: Make a model version the champion."""
    version = ctx.params["version"]
    return ModelRegistry(ctx.scope).promote(version), 200


_BASE = "/api/v1/ai/scoring"
ROUTES = (
    Route(
        "POST",
        _BASE + "/leads/batch",
        Permission.SCORES_RUN,
        score_batch,
        body=ScoreBatch,
        response=BatchScores,
        max_body=4 * 1024 * 1024,
    ),
    Route(
        "POST",
        _BASE + "/leads",
        Permission.SCORES_RUN,
        score_one,
        body=ScoreLead,
        response=LeadScoreResult,
        errors=(404,),
        links={"getLeadScore": {"lead_id": "$response.body#/lead_id"}},
    ),
    Route(
        "GET",
        _BASE + "/leads/{lead_id}",
        Permission.SCORES_READ,
        get_score,
        response=LeadScoreResult,
    ),
    Route("GET", _BASE + "/models", Permission.SCORES_READ, list_models, response=ModelList),
    Route("GET", _BASE + "/drift", Permission.SCORES_READ, get_drift, response=DriftReport),
    Route(
        "POST",
        _BASE + "/models/train",
        Permission.MODELS_MANAGE,
        train_now,
        response=TrainReport,
        errors=(409,),
        links={"promoteScoringModel": {"version": "$response.body#/version"}},
    ),
    Route(
        "POST",
        _BASE + "/models/test",
        Permission.MODELS_MANAGE,
        ab_test,
        body=AbTestBody,
        response=AbTestReport,
        errors=(404, 409),
    ),
    Route(
        "POST",
        _BASE + "/models/{version}/promote",
        Permission.MODELS_MANAGE,
        promote,
        response=Assignment,
    ),
)
