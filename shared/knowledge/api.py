"""HTTP: a tenant's knowledge base (served by ``functions/insights_api`` with the insights).

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


ROUTES = (
    Route("POST", "/api/v1/ai/knowledge", Permission.KNOWLEDGE_MANAGE, add_document),
    Route("GET", "/api/v1/ai/knowledge", Permission.INSIGHTS_READ, list_documents),
    Route("POST", "/api/v1/ai/knowledge/search", Permission.INSIGHTS_READ, search),
    Route("DELETE", "/api/v1/ai/knowledge/{doc_id}", Permission.KNOWLEDGE_MANAGE, delete_document),
)
