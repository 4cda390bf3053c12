"""Chat about a customer or the knowledge base, answered with retrieval and streamed as
server-sent events: ``delta`` events (text), then ``citations`` (with the answer's grounding:
which sentences cite a retrieved excerpt that supports them, see ``grounding``), then ``usage``
(tokens, cost, session id), then ``done``.

The session's memory lives in ``tenants/{t}/chat_sessions/{session_id}`` (its turns); the LLM
layer trims or summarises it when it outgrows the model's window. Retrieved text is sent as
untrusted, so the LLM layer scans it for injection (security events) and the template tells
the model never to follow instructions inside it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.ai.llm.types import Message
from shared.ai.prompts.service import call_context, prepare
from shared.capabilities.insights import grounding
from shared.capabilities.insights.history import customer_history
from shared.capabilities.knowledge.index import KnowledgeBase
from shared.capabilities.knowledge.rewrite import rewrite_query
from shared.core import writebehind
from shared.core.errors import NotFound, PermissionDenied
from shared.core.log import get_logger
from shared.core.store import counting
from shared.core.store.base import check_segment

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from shared.ai.embeddings.base import Embedder
    from shared.ai.llm.client import LLMClient
    from shared.capabilities.knowledge.index import Hit
    from shared.core.tenancy.scope import TenantStore

_log = get_logger("insights.chat")
MAX_TURNS = 40


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def start_chat(
    scope: TenantStore,
    client: LLMClient,
    embedder: Embedder,
    user: str,
    question: str,
    *,
    customer_id: str | None = None,
    session_id: str | None = None,
    after: Callable[[], None] | None = None,
    rewrite: bool = False,
) -> Iterator[str]:
    """Check the customer and session and retrieve, then return the event stream (which calls
    the model). The request's types and bounds are checked at the edge; ``after`` runs once the
    answer streamed (the edge's flush of writes behind); with ``rewrite`` retrieval also searches
    with an LLM's rewrite of the question (``knowledge.rewrite``; one more call first).

    Raises:
        NotFound, PermissionDenied (another user's session): before any event.
    """
    if customer_id is not None and scope.get(scope.path("customers", customer_id)) is None:
        raise NotFound(f"no customer {customer_id!r} in this tenant", field="customer_id")
    session_id = session_id or "chat-" + uuid.uuid4().hex[:16]
    session_path = scope.path("chat_sessions", check_segment(session_id, field="session_id"))
    session = scope.get(session_path) or {"user": user, "customer_id": customer_id, "turns": []}
    if session.get("user") != user:
        raise PermissionDenied("this chat session belongs to another user", field="session_id")
    [vector] = embedder.embed([question])  # one embedding for both indexes
    found = rewrite_query(scope, client, question, feature="chat") if rewrite else None
    alternative = found.query if found else None
    hits: list[Hit] = []
    if customer_id:
        hits += customer_history(scope, embedder, customer_id).search(
            question, k=5, vector=vector, alternative=alternative
        )
    hits += KnowledgeBase(scope, embedder).search(
        question, k=4, vector=vector, alternative=alternative
    )
    excerpts = (
        "\n".join(f"[{h.doc_id}] {h.date or ''} {h.source_type}: {h.text[:900]}" for h in hits)
        or "none"
    )
    rendered = prepare(scope, "insight_chat", {"question": question, "excerpts": excerpts})
    history = [
        Message(role=t["role"], content=t["content"], trusted=t["role"] == "assistant")
        for t in session["turns"][-MAX_TURNS:]
    ]
    request = rendered.request.model_copy(
        update={"messages": [*history, *rendered.request.messages]}
    )
    ctx = call_context(
        rendered,
        scope.tenant_id,
        feature="chat",
        crm_object=f"customer:{customer_id}" if customer_id else None,
    )

    def events() -> Iterator[str]:
        answer, usage = "", None
        yield _sse("session", {"session_id": session_id})
        for piece in client.stream(request, ctx):
            if piece.delta:
                answer += piece.delta
                yield _sse("delta", {"text": piece.delta})
            if piece.usage is not None:
                usage = piece.usage
        used = {h.doc_id for h in hits if f"[{h.doc_id}]" in answer}
        checked = grounding.check(answer, hits)
        yield _sse(
            "citations",
            {
                "citations": [h.citation() for h in hits if h.doc_id in used or not used],
                "grounding": checked,
            },
        )
        _log.info(
            "chat answer grounded",
            extra={
                "fields": {
                    # terraform/metrics.json: insight_grounding
                    "metric": "insight_grounding",
                    "kind": "chat",
                    "score": checked["score"],
                    "sentences": checked["sentences"],
                }
            },
        )
        now = datetime.now(UTC).isoformat()
        session["turns"] = [
            *session["turns"],
            {"role": "user", "content": question, "at": now},
            {"role": "assistant", "content": answer, "at": now},
        ][-MAX_TURNS:]
        session["updated_at"] = now
        scope.set(session_path, session)
        yield _sse(
            "usage",
            {
                "session_id": session_id,
                "input_tokens": usage.input_tokens if usage else 0,
                "output_tokens": usage.output_tokens if usage else 0,
                "template": rendered.template.ref,
                "rewrite": found.model_dump() if found else None,
            },
        )
        yield _sse("done", {})

    def counted() -> Iterator[str]:
        # The streamed part's store operations (benchmarks; the request's line has the rest).
        # The stream runs after the request's unit of work returned: it is a unit of its own.
        with writebehind.unit_of_work(), counting.measure() as ops:
            yield from events()
            if after is not None:
                after()  # the answer's usage record, written behind, lands before "done" is read
        counting.log_work("chat stream", ops)

    return counted()
