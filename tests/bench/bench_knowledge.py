"""Knowledge retrieval quality and speed (run by ``scripts/bench``; prints figures).

Indexes ``../shared/data/abcd-guidelines/guidelines.json`` as one tenant's knowledge base (one
document per subflow: flow, description, subflow and its actions) and asks the questions in
``abcd_questions.json``: recall@5 (the answering subflow among the top five distinct documents)
and MRR, for vector-only, keyword-only and hybrid retrieval, in memory (the retrieval logic is
the same on Firestore; its latency at scale is not measured yet).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from devstack.procs import REPO
from shared.embeddings.local import LocalOnnxEmbedder
from shared.knowledge.index import KnowledgeBase
from shared.store import MemoryStore
from shared.tenancy.scope import TenantStore

DATA = REPO.parent / "shared" / "data" / "abcd-guidelines" / "guidelines.json"
QUESTIONS = Path(__file__).with_name("abcd_questions.json")


def subflow_docs(guidelines: dict[str, Any]) -> list[tuple[str, str]]:
    docs = []
    for flow, spec in guidelines.items():
        for name, sub in spec["subflows"].items():
            lines = [f"{flow}: {spec['description']}", f"{name}"]
            for action in sub.get("actions", []):
                lines.append(action.get("text", ""))
                lines += [f"- {s}" for s in action.get("subtext", [])]
            if sub.get("instructions"):
                lines += [str(i) for i in sub["instructions"]]
            docs.append((f"{flow} / {name}", "\n".join(lines)))
    return docs


def evaluate(
    kb: KnowledgeBase, questions: list[list[str]], mode: str = "hybrid"
) -> tuple[float, float, list[float]]:
    hits, rr, times = 0, 0.0, []
    for question, answer in questions:
        t0 = time.perf_counter()
        results = kb.search(question, k=15, mode=mode)  # type: ignore[arg-type]
        times.append((time.perf_counter() - t0) * 1000)
        ranked = list(dict.fromkeys(h.title for h in results))[:5]
        if answer in ranked:
            hits += 1
            rr += 1 / (ranked.index(answer) + 1)
    return hits / len(questions), rr / len(questions), times


def main() -> None:
    if not DATA.exists():
        print(f"skipped: {DATA} is not here (the team kit's data)")
        return
    docs = subflow_docs(json.loads(DATA.read_text()))
    questions = json.loads(QUESTIONS.read_text())["questions"]
    embedder = LocalOnnxEmbedder()
    store = MemoryStore()
    kb = KnowledgeBase(TenantStore(store, "abcd"), embedder)
    t0 = time.perf_counter()
    chunks = sum(
        kb.add(title, text, "text", doc_id=f"sf-{i}")["chunks"]
        for i, (title, text) in enumerate(docs)
    )
    indexing = time.perf_counter() - t0
    print(
        f"ABCD guidelines: {len(docs)} subflow documents, {chunks} chunks, indexed in {indexing:.1f} s "
        f"({chunks / indexing:.0f} chunks/s); {len(questions)} questions"
    )
    for mode in ("hybrid", "vector", "keyword"):
        recall, mrr, times = evaluate(kb, questions, mode)
        name = mode if mode == "hybrid" else f"{mode} only"
        print(
            f"  {name:<13} recall@5 {recall:.3f}  MRR {mrr:.3f}  query median {statistics.median(times):.1f} ms"
        )


if __name__ == "__main__":
    main()
