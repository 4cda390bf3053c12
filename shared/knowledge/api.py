"""HTTP: customer insights and the tenant's knowledge base (``functions/insights_api``).

- ``POST /api/v1/ai/insights/generate`` (``insights:generate``): ``{"customer_id", "types"?,
  "force"?}``; stored insights while fresh, else generated.
- ``POST /api/v1/ai/insights/chat`` (``insights:read``): ``{"message", "customer_id"?,
  "session_id"?}``, answered as server-sent events (see ``shared.insights.chat``).
- ``GET /api/v1/ai/insights/customer/{customer_id}``, ``GET /api/v1/ai/insights?type=&min_impact=
  &since=&limit=&cursor=`` (``insights:read``).

- ``POST /api/v1/ai/knowledge`` (``knowledge:manage``, admin): ``{"title", "content", "format":
  "text" | "markdown" | "json", "doc_id"?, "source"?}``; 201 with the stored document.
- ``GET /api/v1/ai/knowledge`` (``insights:read``): the documents, newest first.
- ``DELETE /api/v1/ai/knowledge/{doc_id}`` (``knowledge:manage``).
- ``POST /api/v1/ai/knowledge/search`` (``insights:read``): ``{"query", "k"?}``, the best chunks
  with citations (hybrid retrieval).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import runtime
from shared.auth.rbac import Permission
from shared.errors import InvalidInput
from shared.knowledge.index import KnowledgeBase
from shared.store.base import check_segment
from shared.web.http import Route

if TYPE_CHECKING:
    from collections.abc import Iterator

    from shared.web.http import RequestContext


def _kb(ctx: RequestContext) -> KnowledgeBase:
    return KnowledgeBase(ctx.scope, runtime.embedder())


def add_document(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    body = ctx.json_body()
    title, content = body.get("title"), body.get("content")
    if not isinstance(title, str) or not title.strip() or len(title) > 300:
        raise InvalidInput("title is required (at most 300 characters)", field="title")
    if isinstance(content, (dict, list)) and body.get("format") == "json":
        import json

        content = json.dumps(content)
    if not isinstance(content, str):
        raise InvalidInput(
            "content must be text (or a JSON value with format json)", field="content"
        )
    doc_id = body.get("doc_id")
    if doc_id is not None:
        doc_id = check_segment(str(doc_id), field="doc_id")
    meta = _kb(ctx).add(
        title.strip(),
        content,
        body.get("format", "text"),
        doc_id=doc_id,
        source=str(body["source"])[:500] if body.get("source") else None,
        added_by=ctx.principal.subject,
    )
    return meta, 201


def list_documents(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    return {"documents": _kb(ctx).documents()}, 200


def delete_document(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    doc_id = check_segment(ctx.params["doc_id"], field="doc_id")
    _kb(ctx).delete(doc_id)
    return {"deleted": doc_id}, 200


def search(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    body = ctx.json_body()
    query = body.get("query")
    if not isinstance(query, str) or not query.strip() or len(query) > 2000:
        raise InvalidInput("query is required (at most 2000 characters)", field="query")
    k = body.get("k", 5)
    if not isinstance(k, int) or not 1 <= k <= 20:
        raise InvalidInput("k must be a whole number from 1 to 20", field="k")
    hits = _kb(ctx).search(query, k=k)
    return {"results": [{**h.citation(), "score": h.score} for h in hits]}, 200


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
    Route("POST", "/api/v1/ai/insights/chat", Permission.INSIGHTS_READ, chat, stream=True),
    Route("POST", "/api/v1/ai/insights/generate", Permission.INSIGHTS_GENERATE, generate_insights),
    Route("GET", "/api/v1/ai/insights", Permission.INSIGHTS_READ, all_insights),
    Route(
        "GET",
        "/api/v1/ai/insights/customer/{customer_id}",
        Permission.INSIGHTS_READ,
        customer_insights,
    ),
    Route("POST", "/api/v1/ai/knowledge", Permission.KNOWLEDGE_MANAGE, add_document),
    Route("GET", "/api/v1/ai/knowledge", Permission.INSIGHTS_READ, list_documents),
    Route("POST", "/api/v1/ai/knowledge/search", Permission.INSIGHTS_READ, search),
    Route("DELETE", "/api/v1/ai/knowledge/{doc_id}", Permission.KNOWLEDGE_MANAGE, delete_document),
)
