"""The background refresh of stored insights, through the providers' batch interfaces.

Nobody waits on it, so it goes the cheap way (half price; answers within hours):

- :func:`submit_refresh` picks the tenant's stored insights that are stale (new history) or
  expire within ``AHEAD``, retrieves for each as an interactive request would, and submits one
  batch job of ``customer_insight`` requests. What each answer may cite is kept beside it in
  ``tenants/{t}/insight_refresh/{customer_id}-{type}``, which also marks it as in flight.
- The LLM batch collector (``llm_batch_jobs``) polls the providers, falls back to online calls,
  and records usage at batch prices.
- :func:`harvest` turns the finished answers into stored insights (announced with
  ``insight.generated``) unless a newer one was generated meanwhile, and forgets failed items:
  those insights stay stale and the next request regenerates them.

It stops at 80 % of a tenant's monthly budget (the rest is kept for interactive chat).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.ai.llm.batch.jobs import BatchItem, items_of, job_id_for
from shared.capabilities.crm.readmodel import entity_fields
from shared.capabilities.insights.service import (
    INSIGHT_TYPES,
    budget_allows_background,
    build_insight,
    prepare_insight,
    store_insight,
)

if TYPE_CHECKING:
    from datetime import datetime

    from shared.ai.embeddings.base import Embedder
    from shared.ai.llm.batch.service import BatchService
    from shared.core.messaging.pubsub import Publisher
    from shared.core.tenancy.scope import TenantStore

AHEAD = timedelta(hours=6)  # insights expiring this soon are refreshed with the stale ones
DEADLINE = timedelta(hours=12)
MAX_PER_RUN = 500


def _pending_path(scope: TenantStore, customer_id: str, kind: str) -> str:
    return scope.path("insight_refresh", f"{customer_id}-{kind}")


def due(scope: TenantStore, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Stored insights to refresh (stale first, then soonest to expire), not already in flight."""
    rows = [doc for _, doc in scope.query(scope.path("insights"))]
    wanted = [d for d in rows if d.get("stale") or d["expires_at"] <= now + AHEAD]
    wanted.sort(key=lambda d: (not d.get("stale"), d["expires_at"]))
    flying = {doc_id for doc_id, _ in scope.query(scope.path("insight_refresh"))}
    return [d for d in wanted if f"{d['customer_id']}-{d['type']}" not in flying][:limit]


def submit_refresh(
    scope: TenantStore,
    service: BatchService,
    embedder: Embedder,
    now: datetime,
    *,
    limit: int = MAX_PER_RUN,
) -> dict[str, Any]:
    """Submit one batch job refreshing what :func:`due` returns. Idempotent per hour (the job
    id is derived from it), and nothing already in flight is submitted again.

    Raises:
        BudgetExceeded: the budget cannot cover the job at batch prices; TransientError.
    """
    if not budget_allows_background(service.client, scope.tenant_id):
        return {"submitted": 0, "reason": "budget kept for interactive chat"}
    items: list[BatchItem] = []
    pending: list[tuple[str, dict[str, Any]]] = []
    for stored in due(scope, now, limit):
        customer_id, kind = stored["customer_id"], stored["type"]
        customer = scope.get(scope.path("customers", customer_id))
        if customer is None or kind not in INSIGHT_TYPES:
            continue  # the customer was removed: nothing to refresh
        rendered, hits = prepare_insight(
            scope, embedder, customer_id, entity_fields(customer), kind
        )
        ref = f"{customer_id}:{kind}"
        items.append(
            BatchItem(
                ref=ref,
                request=rendered.request,
                crm_object=f"customer:{customer_id}",
                template_id=rendered.template_id,
                template_version=str(rendered.version),
            )
        )
        pending.append(
            (
                _pending_path(scope, customer_id, kind),
                {
                    "ref": ref,
                    "customer_id": customer_id,
                    "type": kind,
                    "template": rendered.template.ref,
                    "citations": {h.doc_id: h.citation() for h in hits},
                    "submitted_at": now,
                },
            )
        )
    if not items:
        return {"submitted": 0, "reason": "nothing due"}
    job_id = job_id_for(scope.tenant_id, f"insight-refresh-{now:%Y%m%d%H}")
    for _, doc in pending:
        doc["job_id"] = job_id
    # In flight before the job exists: a crash in between leaves markers the harvest clears
    # (their job is missing), never a job whose answers nobody stores.
    scope.set_many(pending)
    job = service.submit(
        scope,
        items,
        feature="insights",
        deadline=DEADLINE,
        job_id=job_id,
        submitted_by="insights.refresh",
    )
    return {"submitted": len(items), "batch_id": job.batch_id}


def harvest(scope: TenantStore, publisher: Publisher | None, now: datetime) -> dict[str, Any]:
    """Store the refreshed insights whose batch items are finished. Returns counts."""
    by_job: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for doc_id, doc in scope.query(scope.path("insight_refresh")):
        by_job.setdefault(str(doc.get("job_id")), []).append((doc_id, doc))
    stored = failed = waiting = superseded = 0
    for job_id, markers in by_job.items():
        job = scope.get(scope.path("llm_batches", job_id))
        items = {doc["ref"]: doc for _, doc in items_of(scope, job_id)} if job else {}
        for doc_id, marker in markers:
            item = items.get(marker["ref"])
            state = item["state"] if item else "failed"
            if state not in ("done", "failed"):
                waiting += 1
                continue
            if state == "done" and item is not None:
                current = scope.get(
                    scope.path("insights", f"{marker['customer_id']}-{marker['type']}")
                )
                if current is not None and current["generated_at"] > marker["submitted_at"]:
                    superseded += 1  # regenerated interactively meanwhile: keep the newer one
                else:
                    result = item["result"]
                    insight = build_insight(
                        marker["customer_id"],
                        marker["type"],
                        result.get("structured") or {},
                        marker["citations"],
                        template=marker["template"],
                        cost_usd=float(result.get("cost_usd", 0.0)),
                        now=now,
                    )
                    store_insight(scope, insight, publisher)
                    stored += 1
            else:
                failed += 1  # stays stale; the next request regenerates it
            scope.delete(scope.path("insight_refresh", doc_id))
    return {"stored": stored, "failed": failed, "waiting": waiting, "superseded": superseded}
