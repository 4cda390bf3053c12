"""HTTP: a tenant's LLM usage and cost, and its LLM policy (budgets, degradation, guards).

- ``GET /api/v1/ai/usage?from=YYYY-MM-DD&to=YYYY-MM-DD`` (``usage:read``; default the last 30
  days, at most 92): totals, by day, feature, model and CRM object type, plus this month's budget.
- ``GET /api/v1/ai/usage/objects/{object_ref}`` (``usage:read``): one CRM object's totals
  (``lead:lead-1``, ``customer:c-9``, ``workflow_run:r-3``).
- ``GET`` / ``PUT /api/v1/ai/usage/policy`` (read: ``usage:read``; write: ``budgets:manage``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared import runtime
from shared.auth.rbac import Permission
from shared.errors import InvalidInput
from shared.llm.ledger import _merge_sum
from shared.llm.policy import LLMPolicy
from shared.store.base import check_segment
from shared.web.http import Route

if TYPE_CHECKING:
    from shared.web.http import RequestContext

MAX_DAYS = 92


def _day(ctx: RequestContext, name: str, default: date) -> date:
    raw = ctx.request.args.get(name)
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a date YYYY-MM-DD (got {raw!r})", field=name) from exc


def get_usage(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    today = datetime.now(UTC).date()
    end = _day(ctx, "to", today)
    start = _day(ctx, "from", end - timedelta(days=29))
    if start > end:
        raise InvalidInput("from must not be after to", field="from")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(f"the range may span at most {MAX_DAYS} days", field="to")
    ledger = runtime.llm_ledger()
    days: list[dict[str, Any]] = []
    total: dict[str, Any] = {}
    for offset in range((end - start).days + 1):
        day = (start + timedelta(days=offset)).isoformat()
        agg = ledger.daily(ctx.tenant_id, day)
        if agg:
            days.append({"day": day, **agg.get("total", {})})
            _merge_sum(total, agg)
    policy = runtime.llm_policies().get(ctx.tenant_id)
    budget = ledger.budget_state(ctx.tenant_id)
    return {
        "tenant_id": ctx.tenant_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "total": total.get("total", {}),
        "by_day": days,
        "by_feature": total.get("by_feature", {}),
        "by_model": total.get("by_model", {}),
        "by_object_type": total.get("by_object_type", {}),
        "budget": {
            "period": today.strftime("%Y-%m"),
            "limits": policy.model_dump(
                mode="json", include={"budget", "feature_budgets", "degrade_to_tier"}
            ),
            "used": budget.get("total", {}),
            "by_feature": budget.get("features", {}),
            "alerts_sent": budget.get("alerts_sent", []),
        },
    }, 200


def get_object_usage(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    ref = check_segment(ctx.params["object_ref"], field="object_ref")
    doc = ctx.scope.get(ctx.scope.path("llm_usage_objects", ref)) or {}
    return {"object": ref, "usage": doc}, 200


def get_policy(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    return runtime.llm_policies().get(ctx.tenant_id).model_dump(mode="json"), 200


def put_policy(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    body = ctx.json_body()
    try:
        policy = LLMPolicy.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"{field}: {err['msg']}", field=field) from exc
    if policy.degrade_to_tier is not None:
        try:
            runtime.llm_client().catalog.tier(policy.degrade_to_tier)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="degrade_to_tier") from exc
    runtime.llm_policies().put(ctx.tenant_id, policy)
    return policy.model_dump(mode="json"), 200


ROUTES = (
    Route("GET", "/api/v1/ai/usage", Permission.USAGE_READ, get_usage),
    Route("GET", "/api/v1/ai/usage/policy", Permission.USAGE_READ, get_policy),
    Route("PUT", "/api/v1/ai/usage/policy", Permission.BUDGETS_MANAGE, put_policy),
    Route("GET", "/api/v1/ai/usage/objects/{object_ref}", Permission.USAGE_READ, get_object_usage),
)
