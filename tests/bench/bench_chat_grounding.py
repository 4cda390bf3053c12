"""Groundedness of chat answers (run by ``scripts/bench``; prints figures, asserts nothing).

The ABCD guidelines are one tenant's knowledge base (as in ``bench_knowledge``); each question of
``abcd_questions.json`` goes through the real chat path (retrieval, the ``insight_chat`` template,
the LLM layer, the SSE stream) to the provider simulator, and each answer is checked by
``shared.capabilities.insights.grounding``: a sentence is grounded when it cites a retrieved excerpt whose
words support it. Also: how often the answer cites the subflow that answers the question.

With the simulator this measures our side (retrieval, excerpt ids in the prompt, citation
handling, the check); the simulator answers from the excerpts as a grounded model would. With
provider keys set the same script measures a real model.
"""

from __future__ import annotations

import json
import statistics

from devstack.procs import simulator
from shared.ai.embeddings.local import LocalOnnxEmbedder
from shared.ai.llm import LLMClient
from shared.ai.llm.catalog import Catalog
from shared.ai.llm.router import RetryPolicy, Router
from shared.capabilities.insights.chat import start_chat
from shared.capabilities.knowledge.index import KnowledgeBase
from shared.core.store import MemoryStore
from shared.core.tenancy.scope import TenantStore
from tests.bench.bench_knowledge import DATA, QUESTIONS, subflow_docs
from tests.integration.llm.conftest import providers_for


def main() -> None:
    if not DATA.exists():
        print(f"skipped: {DATA} is not here (the team kit's data)")
        return
    docs = subflow_docs(json.loads(DATA.read_text()))
    questions = json.loads(QUESTIONS.read_text())["questions"]
    scope = TenantStore(MemoryStore(), "abcd")
    embedder = LocalOnnxEmbedder()
    kb = KnowledgeBase(scope, embedder)
    titles = {}
    for i, (title, text) in enumerate(docs):
        kb.add(title, text, "text", doc_id=f"sf-{i}")
        titles[f"sf-{i}"] = title
    with simulator() as sim:
        client = LLMClient(
            Router(providers_for(sim.url), Catalog.load(), RetryPolicy(timeout_s=10))
        )
        scores, sentences, full, gold_cited, example = [], [], 0, 0, None
        for n, (question, answer) in enumerate(questions):
            events = start_chat(scope, client, embedder, f"u{n}", question)
            text, grounding, cited = "", {}, []
            for raw in events:
                kind, _, data = raw.partition("\ndata: ")
                body = json.loads(data)
                if kind == "event: delta":
                    text += body["text"]
                elif kind == "event: citations":
                    grounding, cited = body["grounding"], body["citations"]
            scores.append(grounding["score"])
            sentences.append(grounding["sentences"])
            full += grounding["score"] == 1.0
            gold_cited += any(titles.get(c["id"]) == answer for c in cited)
            example = example or (question, text, grounding)
        client.router.close()
    n = len(questions)
    print(f"chat groundedness over {n} ABCD questions (simulator):")
    print(f"  mean share of grounded sentences {statistics.mean(scores):.3f}")
    print(f"  answers with every sentence grounded {full}/{n} ({full / n:.1%})")
    print(f"  sentences per answer: median {statistics.median(sentences):.0f}")
    print(f"  answers citing the subflow that answers the question {gold_cited}/{n}")
    if example:
        print(f"  example: {example[0]!r}\n    -> {example[1][:400]}\n    {example[2]}")


if __name__ == "__main__":
    main()
