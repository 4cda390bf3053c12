"""HTTP: a tenant's knowledge base (served by ``functions/insights_api`` with the insights).

- ``POST /api/v1/ai/knowledge`` (``knowledge:manage``, admin): ``{"title", "content", "format":
  "text" | "markdown" | "json", "doc_id"?, "source"?}``; 201 with the stored document.
- ``GET /api/v1/ai/knowledge`` (``insights:read``): the documents, newest first.
- ``DELETE /api/v1/ai/knowledge/{doc_id}`` (``knowledge:manage``).
- ``POST /api/v1/ai/knowledge/search`` (``insights:read``): ``{"query", "k"?}``, the best chunks
  with citations (hybrid retrieval).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from shared import runtime
from shared.auth.rbac import Permission
from shared.knowledge.index import MAX_DOC_CHARS, KnowledgeBase
from shared.web.contract import Id, JsonDocument, Request, ResponseBody
from shared.web.http import Route

if TYPE_CHECKING:
    from shared.web.http import RequestContext


Title = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"\S")]


class AddDocument(Request):
    title: Title
    format: Literal["text", "markdown", "json"] = "text"
    content: Annotated[str, StringConstraints(min_length=1, max_length=MAX_DOC_CHARS)] | (
        JsonDocument
    ) = Field(description="Text, or with format json a JSON value")
    doc_id: Id | None = Field(None, description="Replaces the document with this id")
    source: Annotated[str, StringConstraints(max_length=500)] | None = None

    @field_validator("content")
    @classmethod
    def _text_unless_json(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str) and info.data.get("format") != "json":
            raise ValueError("must be text unless format is json")
        return value


class SearchBody(Request):
    query: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"\S")]
    k: int = Field(5, ge=1, le=20)


class Document(ResponseBody):
    doc_id: str
    title: str
    format: str
    source: str | None
    chunks: int
    chars: int
    model_id: str
    added_by: str
    created_at: datetime


class Documents(ResponseBody):
    documents: list[Document]


class Deleted(ResponseBody):
    deleted: str


class Citation(ResponseBody):
    source_type: str
    id: str
    chunk_id: str
    title: str | None
    date: str | None
    snippet: str
    score: float


class SearchResults(ResponseBody):
    results: list[Citation]


def _kb(ctx: RequestContext) -> KnowledgeBase:
    return KnowledgeBase(ctx.scope, runtime.embedder())


def add_document(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    body = ctx.body(AddDocument)
    content = body.content if isinstance(body.content, str) else json.dumps(body.content)
    meta = _kb(ctx).add(
        body.title.strip(),
        content,
        body.format,
        doc_id=body.doc_id,
        source=body.source or None,
        added_by=ctx.principal.subject,
    )
    return meta, 201


def list_documents(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    return {"documents": _kb(ctx).documents()}, 200


def delete_document(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    doc_id = ctx.params["doc_id"]
    _kb(ctx).delete(doc_id)
    return {"deleted": doc_id}, 200


def search(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    body = ctx.body(SearchBody)
    hits = _kb(ctx).search(body.query, k=body.k)
    return {"results": [{**h.citation(), "score": h.score} for h in hits]}, 200


_BASE = "/api/v1/ai/knowledge"
ROUTES = (
    Route(
        "POST",
        _BASE,
        Permission.KNOWLEDGE_MANAGE,
        add_document,
        body=AddDocument,
        response=Document,
        status=201,
        max_body=4 * 1024 * 1024,
    ),
    Route("GET", _BASE, Permission.INSIGHTS_READ, list_documents, response=Documents),
    Route(
        "POST",
        _BASE + "/search",
        Permission.INSIGHTS_READ,
        search,
        body=SearchBody,
        response=SearchResults,
    ),
    Route(
        "DELETE",
        _BASE + "/{doc_id}",
        Permission.KNOWLEDGE_MANAGE,
        delete_document,
        response=Deleted,
    ),
)
