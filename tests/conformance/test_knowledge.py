"""The knowledge base on every store backend: indexing, hybrid retrieval with citations,
tenant isolation, deletion. The embedder is the real local ONNX model."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from shared.ai.embeddings.local import LocalOnnxEmbedder
from shared.ai.embeddings.words import WordHashEmbedder
from shared.capabilities.knowledge.index import KnowledgeBase
from shared.capabilities.knowledge.reembed import reembed
from shared.core.errors import NotFound
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from shared.core.store import DocumentStore

FIXTURE = Path(__file__).parents[1] / "fixtures" / "knowledge_small.json"
EMBEDDER = LocalOnnxEmbedder()


def _loaded(backend: DocumentStore, tenant: str = "acme") -> KnowledgeBase:
    kb = KnowledgeBase(TenantStore(backend, tenant), EMBEDDER)
    for doc in json.loads(FIXTURE.read_text())["documents"]:
        kb.add(doc["title"], doc["content"], doc["format"], doc_id=doc["doc_id"])
    return kb


@pytest.mark.parametrize(
    ("question", "doc_id"),
    [
        ("my parcel arrived broken, can I get my money back?", "refunds"),
        ("I never got the email to change my password", "password"),
        ("how many days does express delivery take", "shipping"),
    ],
)
def test_the_answering_document_comes_first(
    backend: DocumentStore, question: str, doc_id: str
) -> None:
    hits = _loaded(backend).search(question, k=3)
    assert hits[0].doc_id == doc_id
    cite = hits[0].citation()
    assert cite["source_type"] == "knowledge" and cite["id"] == doc_id and cite["snippet"]
    assert cite["date"]


def test_tenants_never_see_each_others_knowledge(backend: DocumentStore) -> None:
    _loaded(backend, "acme")
    other = KnowledgeBase(TenantStore(backend, "globex"), EMBEDDER)
    assert other.search("refund for a damaged item") == []
    assert other.documents() == []


def test_deleting_a_document_removes_its_chunks(backend: DocumentStore) -> None:
    kb = _loaded(backend)
    assert {d.doc_id for d in kb.documents()} == {"refunds", "password", "shipping"}
    kb.delete("refunds")
    assert all(h.doc_id != "refunds" for h in kb.search("refund damaged item", k=10))
    with pytest.raises(NotFound):
        kb.delete("refunds")
    # Re-adding under the same id replaces, never duplicates.
    kb.add("Shipping times", "Express takes two days.", "text", doc_id="shipping")
    assert len([h for h in kb.search("express shipping days", k=10) if h.doc_id == "shipping"]) == 2


def test_a_tenant_mid_migration_to_a_new_embedding_model_still_gets_answers(
    backend: DocumentStore,
) -> None:
    # Vectors of two models are never compared: until the background re-embedding reaches a
    # chunk, keyword retrieval finds it; afterwards the new model's vectors do too.
    scope = TenantStore(backend, "acme")
    kb_old = KnowledgeBase(scope, WordHashEmbedder("words@1"))
    for doc in json.loads(FIXTURE.read_text())["documents"]:
        kb_old.add(doc["title"], doc["content"], doc["format"], doc_id=doc["doc_id"])
    new = WordHashEmbedder("words@2")
    kb_new = KnowledgeBase(scope, new)
    question = "I never got the email to change my password"
    # The model changed; the re-embedding job has not run yet (its deadline already passed).
    assert reembed(scope, new, deadline=time.monotonic() - 1)["remaining"]
    during = kb_new.search(question, k=3)
    assert during and during[0].doc_id == "password"
    assert all(h.vector_rank is None for h in during)  # old vectors are not compared
    done = reembed(scope, new, deadline=time.monotonic() + 60)
    assert not done["remaining"] and done["reembedded"]["knowledge_chunks"] > 0
    after = kb_new.search(question, k=3)
    assert after[0].doc_id == "password" and after[0].vector_rank is not None
