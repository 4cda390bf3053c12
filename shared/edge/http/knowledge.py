"""HTTP: a tenant's knowledge base (served by ``functions/insights_api`` with the insights).

- ``POST /api/v1/ai/knowledge`` (``knowledge:manage``, admin): ``{"title", "content", "format":
  "text" | "markdown" | "json", "doc_id"?, "source"?}``; 201 with the stored document.
- ``GET /api/v1/ai/knowledge`` (``insights:read``): the documents, newest first.
- ``DELETE /api/v1/ai/knowledge/{doc_id}`` (``knowledge:manage``).
- ``POST /api/v1/ai/knowledge/search`` (``insights:read``): ``{"query", "k"?}``, the best chunks
  with citations (hybrid retrieval); with ``KNOWLEDGE_QUERY_REWRITE`` also the LLM's rewrite of
  the query that retrieval used, and its cost.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Discriminator, Field, StringConstraints, Tag

from shared.capabilities.knowledge.index import MAX_DOC_CHARS, Document, KnowledgeBase
from shared.capabilities.knowledge.rewrite import QueryRewrite, rewrite_query
from shared.core.auth.rbac import Permission
from shared.core.web.contract import Id, Int, JsonDocument, OneOf, Request, ResponseBody
from shared.core.web.http import Route

if TYPE_CHECKING:
    from shared.edge.http import Ctx


Title = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"\S")]
DocText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_DOC_CHARS, pattern=r"\S")]


class _Add(Request):
    title: Title
    doc_id: Id | None = Field(None, description="Replaces the document with this id")
    source: Annotated[str, StringConstraints(max_length=500)] | None = None


class AddText(_Add):
    """A text or Markdown document for the knowledge base."""

    format: Literal["text", "markdown"] = "text"
    content: DocText


class AddJson(_Add):
    """A JSON document for the knowledge base (flattened to text for retrieval)."""

    format: Literal["json"]
    content: DocText | JsonDocument = Field(description="A JSON value, or its text")


def _format(value: Any) -> str:
    found = value.get("format") if isinstance(value, dict) else getattr(value, "format", None)
    return "json" if found == "json" else "text"


class AddDocument(
    OneOf[
        Annotated[
            Annotated[AddText, Tag("text")] | Annotated[AddJson, Tag("json")],
            Discriminator(_format),
        ]
    ]
):
    """A document: text or Markdown, or with ``format: json`` a JSON value."""


class SearchBody(Request):
    """A knowledge-base search: the query and how many passages to return."""

    query: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"\S")]
    k: Int = Field(5, ge=1, le=20)


class Documents(ResponseBody):
    """The tenant's knowledge-base documents, newest first."""

    documents: list[Document]


class Deleted(ResponseBody):
    """The id of the document that was deleted, with its chunks."""

    deleted: str


class Citation(ResponseBody):
    """A retrieved passage: its document, chunk, title, date, a snippet and its score."""

    source_type: str
    id: str
    chunk_id: str
    title: str | None
    date: str | None
    snippet: str
    score: float


class SearchResults(ResponseBody):
    """The passages that best answer the query, best first; ``rewrite`` when the deployment
    rewrites questions with an LLM first (``KNOWLEDGE_QUERY_REWRITE``), with its cost."""

    results: list[Citation]
    rewrite: QueryRewrite | None = None


def _kb(ctx: Ctx) -> KnowledgeBase:
    return KnowledgeBase(ctx.scope, ctx.services.embedder)


def add_document(ctx: Ctx) -> tuple[Document, int]:
    """``POST /api/v1/ai/knowledge``: Add a document to the tenant's knowledge base: chunked,
    embedded, indexed (admin)."""
    body = ctx.body(AddDocument).root
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


def list_documents(ctx: Ctx) -> tuple[Documents, int]:
    """``GET /api/v1/ai/knowledge``: The tenant's knowledge documents."""
    return Documents(documents=_kb(ctx).documents()), 200


def delete_document(ctx: Ctx) -> tuple[Deleted, int]:
    """``DELETE /api/v1/ai/knowledge/{doc_id}``: Remove a knowledge document and its chunks
    (admin)."""
    doc_id = ctx.params["doc_id"]
    _kb(ctx).delete(doc_id)
    return Deleted(deleted=doc_id), 200


def search(ctx: Ctx) -> tuple[SearchResults, int]:
    """``POST /api/v1/ai/knowledge/search``: Hybrid retrieval over the tenant's knowledge base, with
    citations."""
    body = ctx.body(SearchBody)
    rewrite = None
    if ctx.services.settings.rewrites_queries:
        rewrite = rewrite_query(ctx.scope, ctx.services.llm, body.query)
    alternative = rewrite.query if rewrite else None
    hits = _kb(ctx).search(body.query, k=body.k, alternative=alternative)
    results = [{**h.citation(), "score": h.score} for h in hits]
    return SearchResults.model_validate({"results": results, "rewrite": rewrite}), 200


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
        links={
            "deleteKnowledgeDocument": {"doc_id": "$response.body#/doc_id"},
            "searchKnowledge": {},
        },
        max_body=1024 * 1024,
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
