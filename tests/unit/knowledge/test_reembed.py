"""Re-embedding after a change of model, on the in-memory store (the function test runs it on the
Firestore emulator): outdated chunks get the new model's vectors, a chunk rewritten meanwhile is
left alone, and the deadline stops a run part-way for the next one to finish."""

from __future__ import annotations

import time

from shared.ai.embeddings.words import WordHashEmbedder
from shared.capabilities.knowledge.index import KnowledgeBase
from shared.capabilities.knowledge.reembed import outdated, reembed
from shared.core.store import MemoryStore
from shared.core.tenancy.scope import TenantStore


class WordEmbedder(WordHashEmbedder):
    def __init__(self, model_id: str) -> None:
        super().__init__(model_id, dim=16)


def _kb(n: int) -> tuple[TenantStore, WordEmbedder]:
    scope = TenantStore(MemoryStore(), "t1")
    old = WordEmbedder("old@1")
    kb = KnowledgeBase(scope, old)
    for i in range(n):
        kb.add(f"Doc {i}", f"Paragraph about topic {i}.\n\nMore words on topic {i}.")
    return scope, old


def test_outdated_chunks_get_the_new_models_vectors_from_their_stored_text() -> None:
    scope, _ = _kb(3)
    new = WordEmbedder("new@2")
    total = len(scope.query(scope.path("knowledge_chunks")))
    assert outdated(scope, new, "knowledge_chunks", 100) == total
    result = reembed(scope, new, deadline=time.monotonic() + 30)
    assert result["reembedded"]["knowledge_chunks"] == total and result["remaining"] is False
    docs = [d for _, d in scope.query(scope.path("knowledge_chunks"))]
    assert {d["model_id"] for d in docs} == {"new@2"}
    # Embedded from the same text the knowledge base embeds: title, newline, chunk.
    assert sorted(new.texts) == sorted(f"{d['title']}\n{d['text']}" for d in docs)
    hits = KnowledgeBase(scope, new).search("topic 1", mode="vector")
    assert hits and hits[0].title == "Doc 1"


def test_a_chunk_rewritten_meanwhile_is_not_overwritten_with_stale_text() -> None:
    scope, _ = _kb(1)
    rows = scope.query(scope.path("knowledge_chunks"))

    class Racing(WordEmbedder):
        raced = False

        def embed(self, texts: list[str]) -> list[list[float]]:
            if not self.raced:  # while the first page is embedded, a writer replaces a chunk
                self.raced = True
                cid, doc = rows[0]
                scope.set(
                    scope.path("knowledge_chunks", cid),
                    {**doc, "text": "rewritten", "content_hash": "other"},
                )
            return super().embed(texts)

    racing = Racing("new@2")
    result = reembed(scope, racing, deadline=time.monotonic() + 30)
    assert result["skipped_changed"] == 1 and result["remaining"] is False
    # The stale vector was not written; the next page embedded the chunk's new text.
    assert racing.texts[-1] == "Doc 0\nrewritten"
    first = scope.get(scope.path("knowledge_chunks", rows[0][0])) or {}
    assert first["text"] == "rewritten" and first["model_id"] == "new@2"
    assert list(first["embedding"]) == racing.embed(["Doc 0\nrewritten"])[0]


def test_a_passed_deadline_leaves_the_rest_for_the_next_run() -> None:
    scope, _ = _kb(2)
    new = WordEmbedder("new@2")
    result = reembed(scope, new, deadline=time.monotonic() - 1)
    assert sum(result["reembedded"].values()) == 0 and result["remaining"] is True
