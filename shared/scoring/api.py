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

from shared import runtime
from shared.auth.rbac import Permission
from shared.errors import AppError, InvalidInput
from shared.scoring import abtest
from shared.scoring.registry import ModelRegistry
from shared.scoring.service import LeadScorer, train_from_read_model
from shared.store.base import check_segment
from shared.web.http import Route

if TYPE_CHECKING:
    from shared.web.http import RequestContext

MAX_BATCH = 1000


def _scorer(ctx: RequestContext) -> LeadScorer:
    return LeadScorer(ctx.scope, publisher=runtime.publisher())


def _lead_id(item: dict[str, Any], field: str) -> str:
    value = item.get("lead_id")
    if not isinstance(value, str):
        raise InvalidInput("lead_id is required (a string)", field=field)
    return check_segment(value, field=field)


def score_one(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    body = ctx.json_body()
    result = _scorer(ctx).score(
        _lead_id(body, "lead_id"), body.get("fields"), force=bool(body.get("force"))
    )
    return result.model_dump(mode="json"), 200


def score_batch(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    leads = ctx.json_body().get("leads")
    if not isinstance(leads, list) or not leads:
        raise InvalidInput("leads must be a non-empty list", field="leads")
    if len(leads) > MAX_BATCH:
        raise InvalidInput(
            f"at most {MAX_BATCH} leads per request (got {len(leads)})", field="leads"
        )
    items: list[tuple[str, Any]] = []
    errors: list[dict[str, Any]] = []
    positions: list[int] = []
    for i, item in enumerate(leads):
        try:
            if not isinstance(item, dict):
                raise InvalidInput("each lead must be an object", field=f"leads[{i}]")
            items.append((_lead_id(item, f"leads[{i}].lead_id"), item.get("fields")))
            positions.append(i)
        except InvalidInput as exc:
            errors.append(
                {
                    "index": i,
                    "lead_id": item.get("lead_id") if isinstance(item, dict) else None,
                    "error": exc.to_dict(),
                }
            )
    results = []
    for i, (lead_id, _), outcome in zip(
        positions, items, _scorer(ctx).score_many(items), strict=True
    ):
        if isinstance(outcome, AppError):
            errors.append({"index": i, "lead_id": lead_id, "error": outcome.to_dict()})
        else:
            results.append(outcome.model_dump(mode="json"))
    errors.sort(key=lambda e: e["index"])
    return {"results": results, "errors": errors}, 200


def get_score(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    return _scorer(ctx).latest(ctx.params["lead_id"]).model_dump(mode="json"), 200


def list_models(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    registry = ModelRegistry(ctx.scope)
    return {
        "assignment": registry.assignment().model_dump(mode="json"),
        "models": [r.model_dump(mode="json") for r in registry.list()],
    }, 200


def train_now(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    return train_from_read_model(ctx.scope), 200


def ab_test(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    body = ctx.json_body() if ctx.request.get_data() else {}
    if "challenger" in body:
        share = body.get("share", 0.1)
        if not isinstance(share, (int, float)):
            raise InvalidInput("share must be a number between 0 and 1", field="share")
        ModelRegistry(ctx.scope).start_test(
            check_segment(str(body["challenger"]), field="challenger"), float(share)
        )
    return abtest.report(ctx.scope), 200


def promote(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    version = check_segment(ctx.params["version"], field="version")
    return ModelRegistry(ctx.scope).promote(version).model_dump(mode="json"), 200


ROUTES = (
    Route("POST", "/api/v1/ai/scoring/leads/batch", Permission.SCORES_RUN, score_batch),
    Route("POST", "/api/v1/ai/scoring/leads", Permission.SCORES_RUN, score_one),
    Route("GET", "/api/v1/ai/scoring/leads/{lead_id}", Permission.SCORES_READ, get_score),
    Route("GET", "/api/v1/ai/scoring/models", Permission.SCORES_READ, list_models),
    Route("POST", "/api/v1/ai/scoring/models/train", Permission.MODELS_MANAGE, train_now),
    Route("POST", "/api/v1/ai/scoring/models/test", Permission.MODELS_MANAGE, ab_test),
    Route("POST", "/api/v1/ai/scoring/models/{version}/promote", Permission.MODELS_MANAGE, promote),
)
