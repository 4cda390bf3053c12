"""A question rewritten by an LLM for retrieval (issue 18, "query understanding"): the
``knowledge_query`` template turns "these boots arent what i expected, can i get my money back"
into the guides' words ("refund for boots"), and retrieval searches with both (see
:meth:`ChunkIndex.search`'s ``alternative``).

Off unless ``KNOWLEDGE_QUERY_REWRITE`` enables it (``Settings.rewrites_queries``): offline the
simulator's answer is not a rewrite. Each rewrite is one LLM call of the fast tier, booked to the
tenant like any other (usage, budget, cache: the same question is answered from the cache).
When the call cannot be made (budget spent, every provider down, the question rejected by the
injection guard) retrieval goes on with the question as written, and the result says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.core.log import get_logger
from shared.core.web.contract import ResponseBody

if TYPE_CHECKING:
    from shared.ai.llm.client import LLMClient
    from shared.ai.llm.types import Feature
    from shared.core.tenancy.scope import TenantStore

TEMPLATE = "knowledge_query"
MAX_REWRITE_CHARS = 300
_log = get_logger("knowledge.rewrite")


class QueryRewrite(ResponseBody):
    """The question as the LLM rewrote it for retrieval, and what that cost; ``query`` is null and
    ``skipped`` says why when no rewrite was used."""

    query: str | None
    skipped: str | None = None
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cache_hit: bool = False
    latency_ms: float = 0.0


def rewrite_query(
    scope: TenantStore, client: LLMClient, question: str, *, feature: Feature = "insights"
) -> QueryRewrite:
    """``question`` rewritten in a support knowledge base's words (one LLM call).

    An LLM error is not raised: the rewrite is an aid to retrieval, which answers without it, and
    :attr:`QueryRewrite.skipped` names the error (also logged as a warning).
    """
    from shared.ai.llm.errors import LLMError
    from shared.ai.prompts.service import run_prompt  # the prompt registry: on first use

    try:
        _, response = run_prompt(client, scope, TEMPLATE, {"question": question}, feature=feature)
    except LLMError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        _log.warning("query rewrite skipped", extra={"fields": {"reason": reason}})
        return QueryRewrite(query=None, skipped=reason)
    text = str((response.structured or {}).get("query", "")).strip()[:MAX_REWRITE_CHARS]
    same = " ".join(text.lower().split()) == " ".join(question.lower().split())
    return QueryRewrite(
        query=text if text and not same else None,
        skipped=None if text and not same else "the model returned the question unchanged",
        model=response.model,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        cost_usd=response.cost_usd,
        cache_hit=response.cache_hit,
        latency_ms=response.latency_ms,
    )
