"""Retrieval quality on the team kit's ABCD guidelines: recall@5 of the answering subflow over
the question set in tests/bench/abcd_questions.json (skipped without the kit's data)."""

from __future__ import annotations

import json

import pytest

from shared.embeddings.local import LocalOnnxEmbedder
from shared.knowledge.index import KnowledgeBase
from shared.store import MemoryStore
from shared.tenancy.scope import TenantStore
from tests.bench.bench_knowledge import DATA, QUESTIONS, evaluate, subflow_docs


@pytest.mark.skipif(
    not DATA.exists(), reason="the team kit's ../shared/data/abcd-guidelines is absent"
)
def test_recall_at_5_on_the_abcd_guidelines_is_at_least_0_9() -> None:
    kb = KnowledgeBase(TenantStore(MemoryStore(), "abcd"), LocalOnnxEmbedder())
    for i, (title, text) in enumerate(subflow_docs(json.loads(DATA.read_text()))):
        kb.add(title, text, "text", doc_id=f"sf-{i}")
    recall, mrr, _ = evaluate(kb, json.loads(QUESTIONS.read_text())["questions"])
    assert recall >= 0.9
    assert mrr >= 0.75
