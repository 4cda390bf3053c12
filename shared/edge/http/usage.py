"""HTTP: a tenant's LLM usage and cost, and its LLM policy (budgets, degradation, guards).

- ``GET /api/v1/ai/usage?from=YYYY-MM-DD&to=YYYY-MM-DD`` (``usage:read``; default the last 30
  days, at most 92): totals, by day, feature, model and CRM object type, plus this month's budget.
- ``GET /api/v1/ai/usage/objects/{object_ref}`` (``usage:read``): one CRM object's totals
  (``lead:lead-1``, ``customer:c-9``, ``workflow_run:r-3``).
- ``GET`` / ``PUT /api/v1/ai/usage/policy`` (read: ``usage:read``; write: ``budgets:manage``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from shared.ai.llm.ledger import merge_sum
from shared.ai.llm.policy import Limit, LLMPolicy
from shared.core.auth.rbac import Permission
from shared.core.errors import InvalidInput
from shared.core.web.contract import Day, Int, IsoDate, Query, ResponseBody
from shared.core.web.http import Route

if TYPE_CHECKING:
    from shared.edge.http import Ctx

MAX_DAYS = 92
_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)
Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]{1,64}$")]


class UsageQuery(Query):
    """The days of a usage report (at most 92)."""

    from_: IsoDate | None = Field(None, alias="from", description="First day (default: to - 29)")
    to: IsoDate | None = Field(None, description="Last day (default: today, UTC)")


class LimitBody(Limit):
    """A monthly budget in a policy update: USD and or tokens."""

    model_config = _STRICT
    monthly_usd: float | None = Field(default=None, ge=0, le=1e9)
    monthly_tokens: Int | None = Field(default=None, ge=0, le=10**15)


class PolicyBody(LLMPolicy):
    """The tenant's LLM policy as an admin sets it."""

    model_config = _STRICT
    budget: LimitBody = Field(default_factory=LimitBody)
    feature_budgets: dict[Name, LimitBody] = Field(default_factory=dict, max_length=50)  # type: ignore[assignment]
    degrade_to_tier: Name | None = Field(
        None, description="Over budget: retry on this cheaper tier instead of failing"
    )
    alert_thresholds: list[Annotated[Int, Field(ge=1, le=100)]] = Field(
        default_factory=lambda: [50, 80, 100], max_length=10
    )


class Budget(ResponseBody):
    """This month's budget: limits, what was used, and use by feature."""

    period: str = Field(description="YYYY-MM")
    limits: dict[str, Any]
    used: dict[str, Any]
    by_feature: dict[str, Any]
    alerts_sent: list[Any]


class Usage(ResponseBody):
    """A tenant's LLM usage and cost over the days asked, totalled and broken down."""

    tenant_id: str
    from_: Day = Field(alias="from")
    to: Day
    total: dict[str, Any]
    by_day: list[dict[str, Any]]
    by_feature: dict[str, Any]
    by_model: dict[str, Any]
    by_object_type: dict[str, Any]
    budget: Budget


class ObjectUsage(ResponseBody):
    """The LLM usage booked to one CRM object."""

    object: str
    usage: dict[str, Any]


class Policy(ResponseBody):
    """A tenant's LLM policy as stored."""

    budget: dict[str, Any]
    feature_budgets: dict[str, Any]
    degrade_to_tier: str | None
    injection: Literal["off", "flag", "block"]
    pii: Literal["off", "redact"]
    alert_thresholds: list[int]
    trace_content: bool


def get_usage(ctx: Ctx) -> tuple[Usage, int]:
    """``GET /api/v1/ai/usage``: A tenant's LLM usage and cost by day, feature, model and CRM object
    type, with its budget."""
    today = datetime.now(UTC).date()
    query = ctx.query(UsageQuery)
    end = query.to or today
    start = query.from_ or end - timedelta(days=29)
    if start > end:
        raise InvalidInput("from must not be after to", field="from")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(f"the range may span at most {MAX_DAYS} days", field="to")
    ledger = ctx.services.ledger
    days: list[dict[str, Any]] = []
    total: dict[str, Any] = {}
    for offset in range((end - start).days + 1):
        day = (start + timedelta(days=offset)).isoformat()
        agg = ledger.daily(ctx.tenant_id, day)
        if agg:
            days.append({"day": day, **agg.get("total", {})})
            merge_sum(total, agg)
    policy = ctx.services.policies.get(ctx.tenant_id)
    budget = ledger.budget_state(ctx.tenant_id)
    return Usage.model_validate(
        {
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
        }
    ), 200


def get_object_usage(ctx: Ctx) -> tuple[ObjectUsage, int]:
    """``GET /api/v1/ai/usage/objects/{object_ref}``: LLM usage of one CRM object (lead:ID,
    customer:ID, workflow_run:ID)."""
    ref = ctx.params["object_ref"]
    doc = ctx.scope.get(ctx.scope.path("llm_usage_objects", ref)) or {}
    return ObjectUsage.model_validate({"object": ref, "usage": doc}), 200


def get_policy(ctx: Ctx) -> tuple[Policy, int]:
    """``GET /api/v1/ai/usage/policy``: The tenant's LLM policy: budgets, degradation, guards."""
    return Policy.model_validate(ctx.services.policies.get(ctx.tenant_id).model_dump()), 200


def put_policy(ctx: Ctx) -> tuple[Policy, int]:
    """``PUT /api/v1/ai/usage/policy``: Set the tenant's LLM policy (admin)."""
    policy = LLMPolicy.model_validate(ctx.body(PolicyBody).model_dump())
    if policy.degrade_to_tier is not None:
        try:
            ctx.services.llm.catalog.tier(policy.degrade_to_tier)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="degrade_to_tier") from exc
    ctx.services.policies.put(ctx.tenant_id, policy)
    return Policy.model_validate(policy.model_dump()), 200


ROUTES = (
    Route(
        "GET",
        "/api/v1/ai/usage",
        Permission.USAGE_READ,
        get_usage,
        query=UsageQuery,
        response=Usage,
    ),
    Route("GET", "/api/v1/ai/usage/policy", Permission.USAGE_READ, get_policy, response=Policy),
    Route(
        "PUT",
        "/api/v1/ai/usage/policy",
        Permission.BUDGETS_MANAGE,
        put_policy,
        body=PolicyBody,
        response=Policy,
    ),
    Route(
        "GET",
        "/api/v1/ai/usage/objects/{object_ref}",
        Permission.USAGE_READ,
        get_object_usage,
        response=ObjectUsage,
    ),
)
