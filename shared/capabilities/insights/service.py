"""Customer insights: retrieval over the customer's history and the tenant's knowledge base,
one ``customer_insight`` call per insight type, every claim tied to the excerpts it cites.

Stored in ``tenants/{t}/insights/{customer_id}-{type}`` with ``expires_at``; a fresh stored
insight is served unless ``force``; new history for the customer marks its insights stale
(:func:`mark_stale`). When the budget is spent or every provider is down, a stored insight is
served with its age instead of an error.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from pydantic import BaseModel, Field

from shared.ai.llm.errors import AllProvidersFailed, BudgetExceeded
from shared.ai.prompts.service import call_context, prepare
from shared.capabilities.crm.readmodel import entity_fields
from shared.capabilities.insights.history import customer_history
from shared.capabilities.knowledge.index import KnowledgeBase
from shared.core.config import TOPIC_AI_EVENTS
from shared.core.errors import InvalidInput, NotFound
from shared.core.log import get_logger
from shared.core.messaging.pubsub import ordering_key
from shared.core.store.base import check_segment

if TYPE_CHECKING:
    from collections.abc import Mapping

    from shared.ai.embeddings.base import Embedder
    from shared.ai.llm.client import LLMClient
    from shared.ai.prompts.render import RenderedPrompt
    from shared.capabilities.knowledge.index import Citation, Hit
    from shared.core.messaging.pubsub import Publisher
    from shared.core.tenancy.scope import TenantStore

_log = get_logger("insights.service")
INSIGHT_TYPES = (
    "churn_risk",
    "upsell",
    "cross_sell",
    "engagement",
    "sentiment_trend",
    "next_best_action",
)
QUESTIONS = {
    "churn_risk": "complaints, cancellation, unhappy, price, competitor, late payment, unresolved issue",
    "upsell": "more users, growth, premium features, higher plan, expansion, usage limits",
    "cross_sell": "other products, add-on, new team, integration, additional needs",
    "engagement": "meetings, calls, replies, product usage, responsiveness, last contact",
    "sentiment_trend": "thanks, happy, frustrated, angry, disappointed, satisfied, tone",
    "next_best_action": "open questions, requests, follow-up, next step, pending decision",
}
TTL = timedelta(hours=24)
TEMPLATE = "customer_insight"


class Recommendation(BaseModel):
    """One recommended next action in an insight, with its priority and expected impact."""

    action: str
    description: str
    priority: str
    estimated_impact: str
    next_steps: list[str] = Field(default_factory=list)


class CustomerInsight(BaseModel):
    """A generated insight about a customer (churn risk, upsell, ...), with the history and
    knowledge it cites and when it goes stale."""

    insight_id: str
    customer_id: str
    type: str
    title: str
    description: str
    confidence: float
    impact_score: int
    recommendations: list[Recommendation]
    supporting_data: list[dict[str, Any]]  # {claim, citations: [citation...]}
    grounded: bool  # every claim cites at least one retrieved excerpt
    template: str
    cost_usd: float
    generated_at: datetime
    expires_at: datetime
    stale: bool = False


def _excerpts(hits: list[Hit]) -> str:
    return (
        "\n".join(f"[{h.doc_id}] {h.date or ''} {h.source_type}: {h.text[:700]}" for h in hits)
        or "none"
    )


def _path(scope: TenantStore, customer_id: str, kind: str) -> str:
    return scope.path("insights", f"{customer_id}-{kind}")


def generate(
    scope: TenantStore,
    client: LLMClient,
    embedder: Embedder,
    customer_id: str,
    types: list[str],
    *,
    force: bool = False,
    publisher: Publisher | None = None,
) -> list[dict[str, Any]]:
    """The customer's insights of ``types``: stored ones while fresh, else newly generated.

    Raises:
        InvalidInput: unknown type; NotFound: no such customer; BudgetExceeded / AllProvidersFailed
        when nothing is stored to fall back on.
    """
    customer_id = check_segment(customer_id, field="customer_id")
    unknown = [t for t in types if t not in INSIGHT_TYPES]
    if unknown or not types:
        raise InvalidInput(f"types must be among {', '.join(INSIGHT_TYPES)}", field="types")
    customer = scope.get(scope.path("customers", customer_id))
    if customer is None:
        raise NotFound(f"no customer {customer_id!r} in this tenant", field="customer_id")
    customer = entity_fields(customer)
    now = datetime.now(UTC)
    out = []
    for kind in dict.fromkeys(types):
        stored = scope.get(_path(scope, customer_id, kind))
        if (
            stored is not None
            and not stored.get("stale")
            and stored["expires_at"] > now
            and not force
        ):
            out.append(_served(stored, now, cached=True))
            continue
        try:
            insight = _generate_one(scope, client, embedder, customer_id, customer, kind, now)
        except (BudgetExceeded, AllProvidersFailed):
            if stored is None:
                raise
            out.append(_served(stored, now, cached=True, degraded=True))
            continue
        doc = store_insight(scope, insight, publisher)
        out.append(_served(doc, now, cached=False))
    return out


def store_insight(
    scope: TenantStore, insight: CustomerInsight, publisher: Publisher | None
) -> dict[str, Any]:
    """Store a new insight (replacing the customer's previous one of its type) and announce it
    with ``insight.generated`` for the real-time service."""
    doc = insight.model_dump(mode="python")
    scope.set(_path(scope, insight.customer_id, insight.type), doc)
    if publisher is not None:
        publisher.publish(
            TOPIC_AI_EVENTS,
            {
                "event_id": f"{insight.insight_id}",
                "event_type": "insight.generated",
                "tenant_id": scope.tenant_id,
                "entity_type": "customer",
                "entity_id": insight.customer_id,
                "data": {
                    "type": insight.type,
                    "title": insight.title,
                    "impact_score": insight.impact_score,
                },
            },
            ordering_key=ordering_key(scope.tenant_id, insight.customer_id),
            attributes={"tenant_id": scope.tenant_id, "event_type": "insight.generated"},
        )
    return doc


def prepare_insight(
    scope: TenantStore,
    embedder: Embedder,
    customer_id: str,
    customer: dict[str, Any],
    kind: str,
) -> tuple[RenderedPrompt, list[Hit]]:
    """Retrieve for one insight type and render the ``customer_insight`` request; the hits are
    what the answer's ``source_ids`` may cite."""
    query = QUESTIONS[kind]
    [vector] = embedder.embed([query])  # one embedding for both indexes
    history = customer_history(scope, embedder, customer_id).search(query, k=6, vector=vector)
    knowledge = KnowledgeBase(scope, embedder).search(query, k=3, vector=vector)
    rendered = prepare(
        scope,
        TEMPLATE,
        {
            "insight_type": kind,
            "customer": json.dumps(customer, default=str)[:6000],
            "history": _excerpts(history)[:12000],
            "knowledge": _excerpts(knowledge)[:6000],
        },
        routing_key=f"customer:{customer_id}",
    )
    return rendered, [*history, *knowledge]


def build_insight(
    customer_id: str,
    kind: str,
    answer: dict[str, Any],
    citations: Mapping[str, Citation],
    *,
    template: str,
    cost_usd: float,
    now: datetime,
) -> CustomerInsight:
    """A ``CustomerInsight`` from the model's structured answer; ``citations`` maps the ids the
    prompt offered to their citations (ids it did not offer are dropped)."""
    supporting = []
    for item in answer.get("supporting_data", []):
        cites = [citations[i] for i in item.get("source_ids", []) if i in citations]
        supporting.append({"claim": item.get("claim", ""), "citations": cites})
    cited = sum(1 for item in supporting if item["citations"])
    _log.info(
        "insight grounded",
        extra={
            "fields": {
                # terraform/metrics.json: insight_grounding (the share of claims with a citation)
                "metric": "insight_grounding",
                "kind": kind,
                "score": round(cited / len(supporting), 3) if supporting else 0.0,
                "sentences": len(supporting),
            }
        },
    )
    return CustomerInsight(
        # Two generations within one second (a refresh racing a forced one) must not share an id.
        insight_id=f"{customer_id}-{kind}-{int(now.timestamp())}-{uuid.uuid4().hex[:6]}",
        customer_id=customer_id,
        type=kind,
        title=str(answer.get("title", "")),
        description=str(answer.get("description", "")),
        confidence=float(answer.get("confidence", 0.0)),
        impact_score=int(answer.get("impact_score", 1)),
        recommendations=[
            Recommendation.model_validate(r) for r in answer.get("recommendations", [])
        ],
        supporting_data=supporting,
        grounded=bool(supporting) and all(s["citations"] for s in supporting),
        template=template,
        cost_usd=cost_usd,
        generated_at=now,
        expires_at=now + TTL,
    )


def _generate_one(
    scope: TenantStore,
    client: LLMClient,
    embedder: Embedder,
    customer_id: str,
    customer: dict[str, Any],
    kind: str,
    now: datetime,
) -> CustomerInsight:
    rendered, hits = prepare_insight(scope, embedder, customer_id, customer, kind)
    response = client.complete(
        rendered.request,
        call_context(
            rendered,
            scope.tenant_id,
            feature=rendered.template.feature,
            crm_object=f"customer:{customer_id}",
        ),
    )
    return build_insight(
        customer_id,
        kind,
        response.structured or {},
        {h.doc_id: h.citation() for h in hits},
        template=rendered.template.ref,
        cost_usd=response.cost_usd,
        now=now,
    )


def _served(
    doc: dict[str, Any], now: datetime, *, cached: bool, degraded: bool = False
) -> dict[str, Any]:
    body = CustomerInsight.model_validate(doc).model_dump(mode="json")
    body.update(
        cached=cached,
        age_seconds=int((now - doc["generated_at"]).total_seconds()),
        served_stale_because=("the budget or the providers are unavailable" if degraded else None),
    )
    return body


def mark_stale(scope: TenantStore, customer_id: str) -> int:
    """New history: the customer's stored insights are no longer fresh; returns how many."""
    rows = scope.query(scope.path("insights"), where=[("customer_id", "==", customer_id)])
    for doc_id, doc in rows:
        scope.set(scope.path("insights", doc_id), {**doc, "stale": True})
    return len(rows)


def list_insights(
    scope: TenantStore,
    *,
    customer_id: str | None = None,
    kind: str | None = None,
    min_impact: int | None = None,
    since: datetime | None = None,
    limit: int = 20,
    before: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Stored insights newest first, filtered; ``before`` is the cursor of the previous page."""
    where: list[Any] = []
    if customer_id:
        where.append(("customer_id", "==", customer_id))
    if kind:
        if kind not in INSIGHT_TYPES:
            raise InvalidInput(f"type must be one of {', '.join(INSIGHT_TYPES)}", field="type")
        where.append(("type", "==", kind))
    rows = [d for _, d in scope.query(scope.path("insights"), where=where)]
    if min_impact is not None:
        rows = [d for d in rows if d["impact_score"] >= min_impact]
    if since is not None:
        rows = [d for d in rows if d["generated_at"] >= since]
    rows.sort(key=lambda d: (d["generated_at"], d["insight_id"]), reverse=True)
    if before:
        anchor = _cursor(rows, before)
        rows = [d for d in rows if (d["generated_at"].isoformat(), d["insight_id"]) < anchor]
    page = rows[:limit]
    now = datetime.now(UTC)
    cursor = page[-1]["insight_id"] if len(rows) > limit else None
    return [_served(d, now, cached=True) for d in page], cursor


def _cursor(rows: list[dict[str, Any]], insight_id: str) -> tuple[str, str]:
    for d in rows:
        if d["insight_id"] == insight_id:
            return d["generated_at"].isoformat(), d["insight_id"]
    raise InvalidInput("cursor is not one this API returned", field="cursor")


BACKGROUND_BUDGET_SHARE = 0.8  # background refreshes stop here; the rest is kept for chat


def budget_allows_background(client: LLMClient, tenant_id: str) -> bool:
    """False once the tenant has used 80 % of its monthly money or token budget, so that what
    is left goes to interactive chat rather than to background refreshes."""
    ledger = client.ledger
    policy = client.policy_for(tenant_id)
    if ledger is None or not policy.has_limits:
        return True
    used = ledger.budget_state(tenant_id).get("total", {})
    spent_usd = used.get("spent_usd", 0.0) + used.get("reserved_usd", 0.0)
    spent_tokens = used.get("spent_tokens", 0) + used.get("reserved_tokens", 0)
    limit = policy.budget
    if limit.monthly_usd and spent_usd >= BACKGROUND_BUDGET_SHARE * limit.monthly_usd:
        return False
    return not (
        limit.monthly_tokens and spent_tokens >= BACKGROUND_BUDGET_SHARE * limit.monthly_tokens
    )


class Refresh(TypedDict):
    """Whether a new interaction refreshed a customer's insights at once, and why (not)."""

    refreshed: list[str]  # the insight types generated again
    reason: str


def refresh_if_high_priority(
    scope: TenantStore,
    client: LLMClient,
    embedder: Embedder,
    customer_id: str,
    publisher: Publisher | None = None,
) -> Refresh:
    """After new history: regenerate a high-priority customer's stored insights now (their
    record says ``priority: high``), unless the budget is kept for chat or the providers are
    down, in which case they stay stale and are regenerated on the next request."""
    customer = scope.get(scope.path("customers", customer_id)) or {}
    if str(customer.get("priority", "")).lower() != "high":
        return {"refreshed": [], "reason": "not a high-priority customer"}
    kinds = [
        d["type"]
        for _, d in scope.query(scope.path("insights"), where=[("customer_id", "==", customer_id)])
    ]
    if not kinds:
        return {"refreshed": [], "reason": "no stored insights"}
    if not budget_allows_background(client, scope.tenant_id):
        return {"refreshed": [], "reason": "budget kept for interactive chat"}
    try:
        generate(scope, client, embedder, customer_id, kinds, force=True, publisher=publisher)
    except (BudgetExceeded, AllProvidersFailed) as exc:
        # Not lost: the insights stay stale and the next request regenerates them.
        return {"refreshed": [], "reason": f"left stale: {exc.message}"}
    return {"refreshed": kinds, "reason": "high-priority customer"}
