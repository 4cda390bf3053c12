"""HTTP: customer insights and streamed chat (``functions/insights_api``, which also serves the
knowledge base routes of :mod:`shared.knowledge.api`).

- ``POST /api/v1/ai/insights/generate`` (``insights:generate``): ``{"customer_id", "types"?,
  "force"?}``; stored insights while fresh, else generated.
- ``GET /api/v1/ai/insights/customer/{customer_id}``, ``GET /api/v1/ai/insights?type=&min_impact=
  &since=&limit=&cursor=`` (``insights:read``).
- ``POST /api/v1/ai/insights/chat`` (``insights:read``): ``{"message", "customer_id"?,
  "session_id"?}``, answered as server-sent events (see :mod:`shared.insights.chat`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import runtime
from shared.auth.rbac import Permission
from shared.errors import InvalidInput
from shared.knowledge.api import ROUTES as KNOWLEDGE_ROUTES
from shared.store.base import check_segment
from shared.web.http import Route

if TYPE_CHECKING:
    from collections.abc import Iterator

    from shared.web.http import RequestContext


def generate_insights(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    from shared.insights.service import generate

    body = ctx.json_body()
    customer_id = body.get("customer_id")
    if not isinstance(customer_id, str) or not customer_id:
        raise InvalidInput("customer_id is required", field="customer_id")
    types = body.get("types", ["churn_risk", "next_best_action"])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise InvalidInput("types must be a list of insight types", field="types")
    insights = generate(
        ctx.scope,
        runtime.llm_client(),
        runtime.embedder(),
        customer_id,
        types,
        force=bool(body.get("force", False)),
        publisher=runtime.publisher(),
    )
    return {"customer_id": customer_id, "insights": insights}, 200


def customer_insights(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    from shared.insights.service import list_insights

    customer_id = check_segment(ctx.params["customer_id"], field="customer_id")
    rows, cursor = list_insights(ctx.scope, customer_id=customer_id, limit=50)
    return {"customer_id": customer_id, "insights": rows, "next_cursor": cursor}, 200


def all_insights(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    from datetime import UTC, datetime

    from shared.insights.service import list_insights

    args = ctx.request.args
    limit = args.get("limit", "20")
    if not limit.isdigit() or not 1 <= int(limit) <= 100:
        raise InvalidInput("limit must be a whole number from 1 to 100", field="limit")
    min_impact = args.get("min_impact")
    if min_impact is not None and (not min_impact.isdigit() or not 1 <= int(min_impact) <= 10):
        raise InvalidInput("min_impact must be a whole number from 1 to 10", field="min_impact")
    since = None
    if args.get("since"):
        try:
            since = datetime.fromisoformat(args["since"])
        except ValueError as exc:
            raise InvalidInput("since must be an ISO date or date-time", field="since") from exc
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    rows, cursor = list_insights(
        ctx.scope,
        kind=args.get("type"),
        min_impact=int(min_impact) if min_impact else None,
        since=since,
        limit=int(limit),
        before=args.get("cursor"),
    )
    return {"insights": rows, "next_cursor": cursor}, 200


def chat(ctx: RequestContext) -> Iterator[str]:
    from shared.insights.chat import start_chat

    return start_chat(
        ctx.scope, runtime.llm_client(), runtime.embedder(), ctx.principal.subject, ctx.json_body()
    )


ROUTES = (
    *KNOWLEDGE_ROUTES,
    Route("POST", "/api/v1/ai/insights/chat", Permission.INSIGHTS_READ, chat, stream=True),
    Route("POST", "/api/v1/ai/insights/generate", Permission.INSIGHTS_GENERATE, generate_insights),
    Route("GET", "/api/v1/ai/insights", Permission.INSIGHTS_READ, all_insights),
    Route(
        "GET",
        "/api/v1/ai/insights/customer/{customer_id}",
        Permission.INSIGHTS_READ,
        customer_insights,
    ),
)
