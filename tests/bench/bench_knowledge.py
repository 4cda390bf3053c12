"""Knowledge retrieval quality and speed (run by ``scripts/bench``; prints figures).

Indexes ``../shared/data/abcd-guidelines/guidelines.json`` as one tenant's knowledge base (one
document per subflow: flow, description, subflow and its actions) and asks three question sets
(issue 18): the test split of ``abcd_support_questions.json`` (330 questions over all 55
subflows, two thirds as customers write them: reported, never tuned on), its dev split (tuning),
three more dev splits written later (``abcd_support_dev2.json``, 3 x 165 questions, tuning) and the
project's first 55 questions (``abcd_questions.json``). Prints recall@5 by distinct
documents (the answering subflow among the top five distinct documents of a k=15 search), by raw
chunks (among the top five chunks), MRR, recall per style, and search latency, in memory (the
retrieval logic is the same on Firestore). ``--tune`` prints the fusion grid on the dev splits;
``--rewrite`` measures LLM query rewriting separately (quality, latency, tokens, cost).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devstack.procs import REPO
from shared.ai.embeddings.local import LocalOnnxEmbedder
from shared.capabilities.knowledge.index import KEYWORD_WEIGHT, RRF_K, KnowledgeBase
from shared.core.store import MemoryStore
from shared.core.tenancy.scope import TenantStore

if TYPE_CHECKING:
    from collections.abc import Callable

DATA = REPO.parent / "shared" / "data" / "abcd-guidelines" / "guidelines.json"
QUESTIONS = Path(__file__).with_name("abcd_questions.json")
SUPPORT = Path(__file__).with_name("abcd_support_questions.json")
SUPPORT_DEV2 = Path(__file__).with_name("abcd_support_dev2.json")


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


@dataclass
class Figures:
    """Quality and speed of one question set (module docstring)."""

    questions: int
    recall_docs: float  # the answer among the top five distinct documents (search k=15)
    recall_chunks: float  # a chunk of the answer among the top five chunks (search k=5)
    mrr: float  # over distinct documents
    by_style: dict[str, float]  # recall_docs per style (customer, agent)
    times: list[float]  # ms per search

    def line(self) -> str:
        styles = "  ".join(f"{k} {v:.3f}" for k, v in sorted(self.by_style.items()))
        return (
            f"recall@5 docs {self.recall_docs:.3f}  chunks {self.recall_chunks:.3f}  "
            f"MRR {self.mrr:.3f}  ({styles})  search p50 {statistics.median(self.times):.1f} ms "
            f"p95 {pct(self.times, 95):.1f} ms  n={self.questions}"
        )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def evaluate(
    kb: KnowledgeBase,
    questions: list[dict[str, str]],
    mode: str = "hybrid",
    rewrite: Callable[[str], str | None] | None = None,
) -> Figures:
    """One question set's figures; with ``rewrite``, each question is searched together with
    its rewrite (the rewrite's own time is not in the search times)."""
    hits, chunk_hits, rr, times = 0, 0, 0.0, []
    style_hits: dict[str, list[int]] = {}
    for q in questions:
        alternative = rewrite(q["question"]) if rewrite else None
        t0 = time.perf_counter()
        results = kb.search(q["question"], k=15, mode=mode, alternative=alternative)  # type: ignore[arg-type]
        times.append((time.perf_counter() - t0) * 1000)
        ranked = list(dict.fromkeys(h.title for h in results))[:5]
        hit = q["answer"] in ranked
        hits += hit
        rr += 1 / (ranked.index(q["answer"]) + 1) if hit else 0.0
        chunk_hits += q["answer"] in [h.title for h in results[:5]]
        style_hits.setdefault(q.get("style", "agent"), []).append(int(hit))
    n = len(questions)
    return Figures(
        n,
        hits / n,
        chunk_hits / n,
        rr / n,
        {style: sum(v) / len(v) for style, v in style_hits.items()},
        times,
    )


def question_sets() -> dict[str, list[dict[str, str]]]:
    """The support questions' test split (reported), dev splits (tuning) and the project's first
    55 questions (a third set): each file's ``_comment`` says how its questions were written."""
    support = json.loads(SUPPORT.read_text())["questions"]
    first = json.loads(QUESTIONS.read_text())["questions"]
    more = json.loads(SUPPORT_DEV2.read_text())["questions"]
    return {
        "support test": [q for q in support if q["split"] == "test"],
        "support dev": [q for q in support if q["split"] == "dev"],
        "support dev2": [q for q in more if q["split"] == "dev2"],
        "support dev3": [q for q in more if q["split"] == "dev3"],
        "support dev4": [q for q in more if q["split"] == "dev4"],
        "first 55": [{"question": q, "answer": a, "style": "agent"} for q, a in first],
    }


def build_kb() -> tuple[KnowledgeBase, int, float, int]:
    docs = subflow_docs(json.loads(DATA.read_text()))
    kb = KnowledgeBase(TenantStore(MemoryStore(), "abcd"), LocalOnnxEmbedder())
    t0 = time.perf_counter()
    chunks = sum(
        kb.add(title, text, "text", doc_id=f"sf-{i}").chunks for i, (title, text) in enumerate(docs)
    )
    return kb, len(docs), time.perf_counter() - t0, chunks


def _fused(
    rows: list[tuple[str, str, int | None, int | None]],
    rrf_k: int,
    weight: float,
    support: tuple[float, float],
) -> list[str]:
    """Chunk titles best first, fused as ``index.py`` does for these constants."""
    scored = sorted(
        (
            (
                (1 / (rrf_k + v) if v is not None else 0.0)
                + (weight / (rrf_k + k) if k is not None else 0.0),
                doc,
                title,
            )
            for title, doc, v, k in rows
        ),
        key=lambda row: row[0],
        reverse=True,
    )
    by_doc: dict[str, list[int]] = {}
    for i, (_, doc, _) in enumerate(scored):
        by_doc.setdefault(doc, []).append(i)
    for at in by_doc.values():
        score, doc, title = scored[at[0]]
        bonus = sum(w * scored[i][0] for w, i in zip(support, at[1:], strict=False))
        scored[at[0]] = (score + bonus, doc, title)
    return [title for _, _, title in sorted(scored, key=lambda row: row[0], reverse=True)]


def tune(kb: KnowledgeBase, questions: list[dict[str, str]]) -> None:
    """The fusion grid on a split: every candidate's vector and keyword ranks are taken once,
    then fused again for each keyword weight and RRF constant (``index.py`` KEYWORD_WEIGHT,
    RRF_K), then for each document-support pair (SUPPORT_WEIGHTS)."""
    ranked = [
        (
            q["answer"],
            [
                (h.title, h.doc_id, h.vector_rank, h.keyword_rank)
                for h in kb.search(q["question"], k=500)
            ],
        )
        for q in questions
    ]

    def cell(rrf_k: int, weight: float, support: tuple[float, float]) -> str:
        hits, rr, chunks = 0, 0.0, 0
        for answer, rows in ranked:
            titles = _fused(rows, rrf_k, weight, support)
            top = list(dict.fromkeys(titles[:15]))[:5]
            chunks += answer in titles[:5]
            if answer in top:
                hits += 1
                rr += 1 / (top.index(answer) + 1)
        n = len(ranked)
        return f"{hits / n:.3f}/{rr / n:.3f}/{chunks / n:.3f}"

    print("  recall@5 docs / MRR / raw top-5 chunks, no document support:")
    for rrf_k in (5, 20, 60):
        cells = [f"w={w:.2f}: {cell(rrf_k, w, (0.0, 0.0))}" for w in (0.0, 0.25, 0.5, 0.75, 1.0)]
        print(f"    RRF k={rrf_k:<3} " + "  ".join(cells))
    print(f"  document support at RRF k={RRF_K}, keyword weight {KEYWORD_WEIGHT}:")
    for second in (0.0, 0.25, 0.5, 0.75, 1.0):
        cells = [f"3rd {t:.2f}: {cell(RRF_K, KEYWORD_WEIGHT, (second, t))}" for t in (0, 0.25, 0.5)]
        print(f"    2nd {second:.2f}  " + "  ".join(cells))


def measure_rewrite(kb: KnowledgeBase) -> None:
    """``--rewrite``: both splits searched with an LLM's rewrite of each question
    (``knowledge.rewrite``), with the rewrites' latency, tokens and cost. Real providers where
    their keys are set, else the simulator, whose answer is not a rewrite: then only the cost
    and latency figures mean anything."""
    import os

    from devstack.procs import simulator
    from shared.ai.llm import LLMClient
    from shared.ai.llm.factory import build_router
    from shared.capabilities.knowledge.rewrite import QueryRewrite, rewrite_query
    from shared.core.config import load_settings

    keys = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GEMINI_USE_VERTEX")
    real = [k for k in keys if os.environ.get(k)]
    with simulator() as sim:
        env = {k: os.environ[k] for k in real} | {
            "GOOGLE_CLOUD_PROJECT": os.environ.get("GOOGLE_CLOUD_PROJECT", "bench"),
            "APP_ENV": "local",
            "AUTH_PUBLIC_KEY_FILE": "unused",
            "LLM_SIMULATOR_URL": sim.url,
        }
        client = LLMClient(build_router(load_settings(env)))
        done: list[QueryRewrite] = []

        def rewrite(question: str) -> str | None:
            done.append(rewrite_query(kb._scope, client, question))
            return done[-1].query

        print(f"query rewrite through {', '.join(real) or 'the simulator (not a rewrite)'}:")
        for name in ("support dev", "support test"):
            figures = evaluate(kb, question_sets()[name], rewrite=rewrite)
            print(f"  {name:<13} hybrid+rewrite {figures.line()}")
        client.router.close()
    latency = [r.latency_ms for r in done if not r.cache_hit]
    cost = sum(r.cost_usd for r in done)
    print(
        f"  {len(done)} rewrites ({sum(r.skipped is not None for r in done)} skipped), "
        f"latency p50 {statistics.median(latency or [0.0]):.0f} ms "
        f"p95 {pct(latency or [0.0], 95):.0f} ms, tokens in/out "
        f"{statistics.mean(r.input_tokens for r in done):.0f}/"
        f"{statistics.mean(r.output_tokens for r in done):.0f}, "
        f"${cost / max(len(done), 1) * 1000:.4f} per 1,000 questions ({done[0].model if done else '-'})"
    )
    print(f"  example: {done[0].query!r}" if done else "")


def main() -> None:
    if "--rewrite" in sys.argv:
        measure_rewrite(build_kb()[0])
        return
    if "--tune" in sys.argv:
        kb = build_kb()[0]
        sets = question_sets()
        print("support dev, dev2, dev3 and dev4:")
        dev = ("support dev", "support dev2", "support dev3", "support dev4")
        tune(kb, [q for name in dev for q in sets[name]])
        return
    if not DATA.exists():
        print(f"skipped: {DATA} is not here (the team kit's data)")
        return
    kb, n_docs, indexing, chunks = build_kb()
    print(
        f"ABCD guidelines: {n_docs} subflow documents, {chunks} chunks, indexed in {indexing:.1f} s "
        f"({chunks / indexing:.0f} chunks/s)"
    )
    sets = question_sets()
    for name, questions in sets.items():
        print(f"  {name:<13} hybrid       {evaluate(kb, questions).line()}")
    for mode in ("vector", "keyword"):
        figures = evaluate(kb, sets["support dev"], mode)
        print(f"  {'support dev':<13} {mode + ' only':<12} {figures.line()}")
    print("  (tuned on the support dev splits; support test is reported and never tuned on)")


if __name__ == "__main__":
    main()
