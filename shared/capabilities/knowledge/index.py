"""A tenant's knowledge base: documents chunked, embedded and stored in Firestore with a vector
field, and hybrid retrieval over them (vector similarity and keyword match, fused by reciprocal
rank), returning citations.

``tenants/{t}/knowledge_docs/{doc_id}``: title, format, chunk count, embedding model.
``tenants/{t}/knowledge_chunks/{doc_id}-{n}``: text, ``embedding`` (a Firestore vector),
``model_id``, ``kw`` (its normalised words as a map ``{word: true}``, for keyword candidates),
source and date.
The tenant is the path, so a query can never reach another tenant's chunks.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from shared.capabilities.knowledge.text import Format, chunk, keyword_map, query_parts, terms_of
from shared.core.errors import InvalidInput, NotFound
from shared.core.store.base import Vector
from shared.core.web.contract import ResponseBody

if TYPE_CHECKING:
    from collections.abc import Sequence

    from shared.ai.embeddings.base import Embedder
    from shared.core.store.base import Filter
    from shared.core.tenancy.scope import TenantStore

# Indexing is synchronous: at ~15 KB of text a second on one core (the local embedder), 100,000
# characters index in about 8 s, inside the API's 60 s deadline. Split longer documents.
MAX_DOC_CHARS = 100_000
VECTOR_CANDIDATES = 40
KEYWORD_TERMS = 4
KEYWORD_CANDIDATES = 30
RRF_K = 5  # tuned on the support dev split (issue 18): tests/bench/bench_knowledge.py --tune
# The keyword list's weight in the fusion against the vector list's 1 (same tuning: 0.5 until
# the query's everyday phrasings gained support terms, vocabulary.py; with them 0.75 on dev; with
# the second dev split's rules 1.0, on both dev splits).
KEYWORD_WEIGHT = 1.0
# A document's best chunk gains these shares of its second and third best chunks' scores: a
# document several passages of which match is likelier the answer (same tuning: dev MRR
# 0.808 -> 0.843, raw top-5 chunks 0.921 -> 0.964, recall@5 unchanged).
SUPPORT_WEIGHTS = (0.5, 0.5)
# A query word in a document's title counts three times on the keyword side (titles name the
# topic); a support term that the query's phrasing stands for (vocabulary.py: "money back" ->
# refund) five times: the customer did not type the title's word, the rule read it from how they
# said it (tuned on the four dev splits: mean MRR 0.917 -> 0.925, recall@5 0.982 -> 0.986; 8: no
# better).
TITLE_WEIGHT = 3
SUPPORT_TITLE_WEIGHT = 5


class Citation(TypedDict):
    """A retrieved passage as answers cite it (the API, insights, chat, triage drafts)."""

    source_type: str
    id: str
    chunk_id: str
    title: str | None
    date: str | None
    snippet: str


# Stored as ``knowledge_docs/{doc_id}`` and answered by the API as it is.
class Document(ResponseBody):
    """A knowledge-base document (without its text)."""

    doc_id: str
    title: str
    format: str
    source: str | None
    chunks: int
    chars: int
    model_id: str
    added_by: str
    created_at: datetime


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk, with the citation a caller shows."""

    chunk_id: str
    doc_id: str
    source_type: str
    title: str
    text: str
    date: str | None
    score: float
    vector_rank: int | None
    keyword_rank: int | None

    def citation(self, snippet_chars: int = 240) -> Citation:
        """The hit as the API cites it: source, ids, title, date and a snippet of
        ``snippet_chars``."""
        return {
            "source_type": self.source_type,
            "id": self.doc_id,
            "chunk_id": self.chunk_id,
            "title": self.title,
            "date": self.date,
            "snippet": self.text[:snippet_chars],
        }


class KnowledgeBase:
    """A tenant's knowledge base: documents chunked and embedded into Firestore, searched by vectors
    and keywords together (hybrid retrieval)."""

    def __init__(self, scope: TenantStore, embedder: Embedder) -> None:
        self._scope = scope
        self._embedder = embedder

    # --- documents ------------------------------------------------------------------------------
    def add(
        self,
        title: str,
        content: str,
        fmt: Format = "text",
        *,
        doc_id: str | None = None,
        source: str | None = None,
        added_by: str = "",
    ) -> Document:
        """Chunk, embed and store a document (replacing one with the same ``doc_id``).

        Raises:
            InvalidInput: empty or too large content, bad JSON, bad format.
        """
        if fmt not in ("text", "markdown", "json"):
            raise InvalidInput("format must be text, markdown or json", field="format")
        if not content.strip():
            raise InvalidInput("content is empty", field="content")
        if len(content) > MAX_DOC_CHARS:
            raise InvalidInput(
                f"content may hold at most {MAX_DOC_CHARS} characters", field="content"
            )
        doc_id = doc_id or "kb-" + uuid.uuid4().hex[:16]
        # A short heading chunk (title and the opening line) lets a question that names the
        # topic find the document even when its body is mostly steps shared with others.
        opening = content.strip().splitlines()[0][:200]
        pieces = [f"{title}. {opening}", *chunk(content, fmt)]
        vectors = self._embedder.embed([f"{title}\n{p}" for p in pieces])
        now = datetime.now(UTC)
        if self._scope.get(self._doc_path(doc_id)) is not None:
            self.delete(doc_id)
        docs: list[tuple[str, dict[str, Any]]] = [
            (
                self._scope.path("knowledge_chunks", f"{doc_id}-{n}"),
                {
                    "doc_id": doc_id,
                    "n": n,
                    "title": title,
                    "text": text,
                    "embedding": Vector(vector),
                    "model_id": self._embedder.model_id,
                    "kw": keyword_map(f"{title} {text}"),
                    "title_terms": sorted(set(terms_of(title))),
                    "source_type": "knowledge",
                    "date": now.date().isoformat(),
                    "content_hash": hashlib.sha256(text.encode()).hexdigest(),
                },
            )
            for n, (text, vector) in enumerate(zip(pieces, vectors, strict=True))
        ]
        meta = Document(
            doc_id=doc_id,
            title=title,
            format=fmt,
            source=source,
            chunks=len(pieces),
            chars=len(content),
            model_id=self._embedder.model_id,
            added_by=added_by,
            created_at=now,
        )
        self._scope.set_many([*docs, (self._doc_path(doc_id), meta.model_dump())])
        return meta

    def _doc_path(self, doc_id: str) -> str:
        return self._scope.path("knowledge_docs", doc_id)

    def documents(self, limit: int = 100) -> list[Document]:
        """The tenant's documents, newest first (without their chunks)."""
        rows = self._scope.query(
            self._scope.path("knowledge_docs"), order_by="created_at", descending=True, limit=limit
        )
        return [Document.model_validate(doc) for _, doc in rows]

    def delete(self, doc_id: str) -> None:
        """Remove a document and its chunks.

        Raises:
            NotFound: no such document in this tenant.
        """
        meta = self._scope.get(self._doc_path(doc_id))
        if meta is None:
            raise NotFound(f"no knowledge document {doc_id!r} in this tenant", field="doc_id")
        for n in range(int(meta.get("chunks", 0))):
            self._scope.delete(self._scope.path("knowledge_chunks", f"{doc_id}-{n}"))
        self._scope.delete(self._doc_path(doc_id))

    # --- retrieval ------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int = 5,
        *,
        mode: Literal["hybrid", "vector", "keyword"] = "hybrid",
        vector: list[float] | None = None,
        alternative: str | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query`` (see :meth:`ChunkIndex.search`)."""
        return ChunkIndex(self._scope, self._embedder, "knowledge_chunks").search(
            query, k, mode=mode, vector=vector, alternative=alternative
        )


class ChunkIndex:
    """Hybrid retrieval over one tenant collection of embedded chunks: vector and keyword
    candidates fused by reciprocal rank (1 / (RRF_K + rank) from the vector list, KEYWORD_WEIGHT
    times that from the keyword list), each document's best chunk supported by its next ones,
    optionally restricted by ``where`` (a customer) and weighted towards recent chunks."""

    def __init__(
        self,
        scope: TenantStore,
        embedder: Embedder,
        collection: str,
        *,
        where: Sequence[Filter] = (),
        recency_half_life_days: float | None = None,
    ) -> None:
        self._scope = scope
        self._embedder = embedder
        self._collection = scope.path(collection)
        self._where = list(where)
        self._half_life = recency_half_life_days

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        mode: Literal["hybrid", "vector", "keyword"] = "hybrid",
        vector: list[float] | None = None,
        alternative: str | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query``; ``mode`` keeps one candidate list only;
        ``vector`` is the query's embedding when the caller has it already (one embedding for
        several indexes); ``alternative`` is another wording of the query (an LLM's rewrite,
        ``rewrite.py``): its vector list shares the vector side's weight with the query's, and
        its words join the keyword side's."""
        docs: dict[str, dict[str, Any]] = {}
        vector_ranks: list[dict[str, int]] = []
        if mode != "keyword":
            texts = [query, *([alternative] if alternative else [])]
            vectors = [vector] if vector is not None else []
            if texts[len(vectors) :]:
                vectors += self._embedder.embed(texts[len(vectors) :])
            for each in vectors:
                by_vector = self._nearest(each)
                docs |= {cid: doc for cid, doc, _ in by_vector}
                vector_ranks.append({cid: i for i, (cid, _, _) in enumerate(by_vector)})
        keyword_rank: dict[str, int] = {}
        if mode != "vector":
            typed, support = query_parts(f"{query}\n{alternative or ''}")
            wanted = list(dict.fromkeys(typed + support))
            # The longest words are the most specific: they bring keyword candidates in.
            for term in sorted(wanted, key=len, reverse=True)[:KEYWORD_TERMS]:
                for cid, doc in self._scope.query(
                    self._collection,
                    where=[*self._where, ("kw", "has_key", term)],
                    limit=KEYWORD_CANDIDATES,
                ):
                    docs.setdefault(cid, doc)
            keyword_rank = _keyword_ranks(wanted, docs, frozenset(support))
        today = datetime.now(UTC).date()
        fused = _with_support(
            [
                (self._score(cid, doc, vector_ranks, keyword_rank, today), cid, doc)
                for cid, doc in docs.items()
            ]
        )
        return [
            Hit(
                chunk_id=cid,
                doc_id=doc["doc_id"],
                source_type=doc.get("source_type", "knowledge"),
                title=doc.get("title", ""),
                text=doc.get("text", ""),
                date=doc.get("date"),
                score=round(score, 6),
                vector_rank=min((r[cid] for r in vector_ranks if cid in r), default=None),
                keyword_rank=keyword_rank.get(cid),
            )
            for score, cid, doc in fused[:k]
        ]

    def _nearest(self, vector: list[float]) -> list[tuple[str, dict[str, Any], float]]:
        return self._scope.nearest(
            self._collection,
            field="embedding",
            vector=vector,
            limit=VECTOR_CANDIDATES,
            where=[*self._where, ("model_id", "==", self._embedder.model_id)],
        )

    def _score(
        self,
        cid: str,
        doc: dict[str, Any],
        vector_ranks: list[dict[str, int]],
        keyword_rank: dict[str, int],
        today: date,
    ) -> float:
        """A chunk's fused score: reciprocal ranks (the vector lists sharing one weight), then the
        recency weight when the index has one."""
        score = sum(1 / (RRF_K + r[cid]) for r in vector_ranks if cid in r) / max(
            len(vector_ranks), 1
        )
        if cid in keyword_rank:
            score += KEYWORD_WEIGHT / (RRF_K + keyword_rank[cid])
        if self._half_life and doc.get("date"):
            age = max((today - date.fromisoformat(str(doc["date"])[:10])).days, 0)
            score *= 0.5 + 0.5 * 0.5 ** (age / self._half_life)
        return score


def _with_support(
    fused: list[tuple[float, str, dict[str, Any]]],
) -> list[tuple[float, str, dict[str, Any]]]:
    """``fused`` best first, each document's best chunk raised by its next chunks' scores
    (:data:`SUPPORT_WEIGHTS`); the other chunks keep their own."""
    fused.sort(key=lambda row: row[0], reverse=True)
    by_doc: dict[str, list[int]] = {}
    for i, (_, _, doc) in enumerate(fused):
        by_doc.setdefault(str(doc.get("doc_id")), []).append(i)
    for rows in by_doc.values():
        best = rows[0]
        bonus = sum(w * fused[i][0] for w, i in zip(SUPPORT_WEIGHTS, rows[1:], strict=False))
        if bonus:
            score, cid, doc = fused[best]
            fused[best] = (score + bonus, cid, doc)
    fused.sort(key=lambda row: row[0], reverse=True)
    return fused


def _keyword_ranks(
    wanted: list[str], docs: dict[str, dict[str, Any]], support: frozenset[str] = frozenset()
) -> dict[str, int]:
    """Rank candidates by the summed rarity (inverse document frequency within the candidate
    set) of the query words they contain, a word in the document's title counting
    :data:`TITLE_WEIGHT` times, or :data:`SUPPORT_TITLE_WEIGHT` times when it is one of the
    ``support`` terms the query's phrasings stand for; candidates with none are not ranked."""
    if not wanted or not docs:
        return {}
    sets = {cid: set(doc.get("kw") or ()) for cid, doc in docs.items()}
    titles = {cid: set(doc.get("title_terms", [])) for cid, doc in docs.items()}
    n = len(sets)
    idf = {t: math.log(1 + n / (1 + sum(t in s for s in sets.values()))) for t in wanted}
    titled = {t: SUPPORT_TITLE_WEIGHT if t in support else TITLE_WEIGHT for t in wanted}
    scored = [
        (sum(idf[t] * (titled[t] if t in titles[cid] else 1) for t in wanted if t in s), cid)
        for cid, s in sets.items()
    ]
    ranked = sorted((row for row in scored if row[0] > 0), reverse=True)
    return {cid: i for i, (_, cid) in enumerate(ranked)}
