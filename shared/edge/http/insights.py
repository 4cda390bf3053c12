"""HTTP: customer insights and streamed chat (``functions/insights_api``, which also serves the
knowledge base routes of :mod:`shared.edge.http.knowledge`).

- ``POST /api/v1/ai/insights/generate`` (``insights:generate``): ``{"customer_id", "types"?,
  "force"?}``; stored insights while fresh, else generated.
- ``GET /api/v1/ai/insights/customer/{customer_id}``, ``GET /api/v1/ai/insights?type=&min_impact=
  &since=&limit=&cursor=`` (``insights:read``).
- ``POST /api/v1/ai/insights/chat`` (``insights:generate``: chat spends money, like generating):
  ``{"message", "customer_id"?, "session_id"?}``, answered as server-sent events (see
  :mod:`shared.capabilities.insights.chat`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints

from shared.capabilities.knowledge.rewrite import QueryRewrite
from shared.core.auth.rbac import Permission
from shared.core.web.contract import Id, IsoInstant, Query, Request, ResponseBody
from shared.core.web.http import Route
from shared.edge.http.knowledge import ROUTES as KNOWLEDGE_ROUTES

if TYPE_CHECKING:
    from collections.abc import Iterator

    from shared.edge.http import Ctx


InsightType = Literal[
    "churn_risk", "upsell", "cross_sell", "engagement", "sentiment_trend", "next_best_action"
]


class GenerateBody(Request):
    """Which insights to generate for a customer now."""

    customer_id: Id
    types: list[InsightType] = Field(
        default=["churn_risk", "next_best_action"], min_length=1, max_length=6
    )
    force: bool = Field(False, description="Generate again even if fresh insights are stored")


class InsightsQuery(Query):
    """Filters and paging for listing insights."""

    type: InsightType | None = None
    min_impact: int | None = Field(None, ge=1, le=10)
    since: IsoInstant | None = Field(None, description="Generated at or after (UTC if no offset)")
    limit: int = Field(20, ge=1, le=100)
    cursor: Id | None = Field(None, description="next_cursor of the previous page")


class ChatBody(Request):
    """A chat question, grounded in a customer's history when ``customer_id`` is given, and
    continuing a session when ``session_id`` is."""

    message: Annotated[str, StringConstraints(min_length=1, max_length=4000, pattern=r"\S")]
    customer_id: Id | None = Field(None, description="Ground the answer in this customer's history")
    session_id: Id | None = Field(None, description="Continue this session (yours only)")


class ChatSession(ResponseBody):
    """First: the session to pass as session_id to continue the conversation."""

    session_id: str


class ChatDelta(ResponseBody):
    """The answer's next piece of text."""

    text: str


class ChatCitations(ResponseBody):
    """The excerpts the answer cites, and how much of it they support."""

    citations: list[dict[str, Any]]
    grounding: dict[str, Any]


class ChatUsage(ResponseBody):
    """The ``usage`` event that ends a chat answer: its session, tokens and template version."""

    session_id: str
    input_tokens: int
    output_tokens: int
    template: str
    rewrite: QueryRewrite | None = None


class ChatDone(ResponseBody):
    """Last: the answer is complete."""


class ChatError(ResponseBody):
    """Instead of the rest, when the answer fails after it started (the status line is sent)."""

    error: dict[str, Any]
    request_id: str


CHAT_EVENTS = (
    ("session", ChatSession),
    ("delta", ChatDelta),
    ("citations", ChatCitations),
    ("usage", ChatUsage),
    ("done", ChatDone),
    ("error", ChatError),
)


class Insight(ResponseBody):
    """A stored customer insight, with its recommendations and citations."""

    insight_id: str
    customer_id: str
    type: str


class GeneratedInsights(ResponseBody):
    """The insights generated for a customer by this request."""

    customer_id: str
    insights: list[Insight]


class InsightPage(ResponseBody):
    """A page of insights, newest first, with the cursor for the next."""

    insights: list[Insight]
    next_cursor: str | None


class CustomerInsights(InsightPage):
    """A page of one customer's insights."""

    customer_id: str


def generate_insights(ctx: Ctx) -> tuple[GeneratedInsights, int]:
    """``POST /api/v1/ai/insights/generate``: A customer's insights with recommendations and cited
    supporting data (stored ones while fresh)."""
    from shared.capabilities.insights.service import generate

    body = ctx.body(GenerateBody)
    insights = generate(
        ctx.scope,
        ctx.services.llm,
        ctx.services.embedder,
        body.customer_id,
        list(body.types),
        force=body.force,
        publisher=ctx.services.publisher,
    )
    return GeneratedInsights.model_validate(
        {"customer_id": body.customer_id, "insights": insights}
    ), 200


def customer_insights(ctx: Ctx) -> tuple[CustomerInsights, int]:
    """``GET /api/v1/ai/insights/customer/{customer_id}``: One customer's stored insights."""
    from shared.capabilities.insights.service import list_insights

    customer_id = ctx.params["customer_id"]
    rows, cursor = list_insights(ctx.scope, customer_id=customer_id, limit=50)
    page = {"customer_id": customer_id, "insights": rows, "next_cursor": cursor}
    return CustomerInsights.model_validate(page), 200


def all_insights(ctx: Ctx) -> tuple[InsightPage, int]:
    """``GET /api/v1/ai/insights``: The tenant's stored insights, filtered by type, minimum impact
    and date."""
    from shared.capabilities.insights.service import list_insights

    query = ctx.query(InsightsQuery)
    rows, cursor = list_insights(
        ctx.scope,
        kind=query.type,
        min_impact=query.min_impact,
        since=query.since,
        limit=query.limit,
        before=query.cursor,
    )
    return InsightPage.model_validate({"insights": rows, "next_cursor": cursor}), 200


def chat(ctx: Ctx) -> Iterator[str]:
    """``POST /api/v1/ai/insights/chat``: Questions about a customer or the knowledge base, answered
    with retrieval and streamed as server-sent events."""
    from shared.capabilities.insights.chat import start_chat

    body = ctx.body(ChatBody)
    return start_chat(
        ctx.scope,
        ctx.services.llm,
        ctx.services.embedder,
        ctx.principal.subject,
        body.message,
        customer_id=body.customer_id,
        session_id=body.session_id,
        after=ctx.services.flush_writes,
        rewrite=ctx.services.settings.rewrites_queries,
    )


_BASE = "/api/v1/ai/insights"
ROUTES = (
    *KNOWLEDGE_ROUTES,
    Route(
        "POST",
        _BASE + "/chat",
        Permission.INSIGHTS_GENERATE,
        chat,
        stream=True,
        events=CHAT_EVENTS,
        body=ChatBody,
        errors=(402, 404),
    ),
    Route(
        "POST",
        _BASE + "/generate",
        Permission.INSIGHTS_GENERATE,
        generate_insights,
        body=GenerateBody,
        response=GeneratedInsights,
        errors=(402, 404),
        links={"getCustomerInsights": {"customer_id": "$response.body#/customer_id"}},
    ),
    Route(
        "GET",
        _BASE,
        Permission.INSIGHTS_READ,
        all_insights,
        query=InsightsQuery,
        response=InsightPage,
    ),
    Route(
        "GET",
        _BASE + "/customer/{customer_id}",
        Permission.INSIGHTS_READ,
        customer_insights,
        response=CustomerInsights,
    ),
)
