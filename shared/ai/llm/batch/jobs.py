"""A batch job's documents: ``tenants/{t}/llm_batches/{job_id}`` and its items, the job's
lease (one collector at a time), and the job as the API shows it."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from shared.ai.llm.types import LLMRequest
from shared.core.errors import NotFound
from shared.core.web.contract import ResponseBody

if TYPE_CHECKING:
    from shared.ai.llm.types import LLMResponse
    from shared.core.tenancy.scope import TenantStore


class BatchItem(BaseModel):
    """One request of a job, with what its usage record must name."""

    ref: str  # the caller's id for the item (a lead id, ...)
    request: LLMRequest
    crm_object: str | None = None
    template_id: str | None = None
    template_version: str | None = None


class ProviderBatch(ResponseBody):
    """One provider batch a job was split into."""

    provider: str
    model: str
    state: str
    size: int


class JobItem(ResponseBody):
    """One item of a job as the API shows it: its state and, once finished, its result or
    error."""

    id: str = Field(description="The caller's ref for the item")
    custom_id: str
    state: str
    template: str | None = Field(description="template_id@vN when the item came from one")
    result: dict[str, Any] | None = None
    error: str | None = None


class JobView(ResponseBody):
    """A background job: state, mode, counts, and a page of its items with their results."""

    batch_id: str
    state: str | None
    mode: str | None
    feature: str | None = None
    created_at: datetime | None = None
    deadline_at: datetime | None = None
    completed_at: datetime | None = None
    total: int | None = None
    batch_cost_usd: float | None = None
    online_cost_usd: float | None = None
    notes: list[str] = Field(default_factory=list)
    provider_batches: list[ProviderBatch] = Field(default_factory=list)
    counts: dict[str, int] = Field(description="Items by state")
    items: list[JobItem]
    next_after: str | None = Field(description="Pass as after for the next page")


def job_id_for(tenant_id: str, idempotency_key: str | None) -> str:
    """A job's id: derived from the idempotency key when given (a retried submit finds the same
    job), else random."""
    if idempotency_key:
        return "b" + hashlib.sha256(f"{tenant_id}|{idempotency_key}".encode()).hexdigest()[:23]
    return "b" + uuid.uuid4().hex[:23]


def take_lease(scope: TenantStore, job_path: str, lease_s: float, now: datetime) -> bool:
    """Hold the job for ``lease_s`` unless a live lease is held already (then False).

    Raises:
        NotFound: no such job.
    """

    def _take(tx: Any) -> bool:
        job = tx.get(job_path)
        if job is None:
            raise NotFound(f"no batch {job_path.rsplit('/', 1)[-1]!r}", field="batch_id")
        until = job.get("lease_until")
        if until is not None and until > now:
            return False
        tx.set(job_path, {**job, "lease_until": now + timedelta(seconds=lease_s)})
        return True

    return bool(scope.run_transaction(_take))


def release_lease(scope: TenantStore, job_path: str) -> None:
    """Let another collector take the job now rather than when its lease expires."""

    def _drop(tx: Any) -> None:
        job = tx.get(job_path)
        if job is not None:
            tx.set(job_path, {**job, "lease_until": None})

    scope.run_transaction(_drop)


def items_of(scope: TenantStore, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    """A job's items as (custom id, item document) pairs."""
    return scope.query(scope.path("llm_batches", job_id, "items"))


def item_path(scope: TenantStore, job_id: str, custom_id: str) -> str:
    """Where one item of a job is stored, by its custom id."""
    return scope.path("llm_batches", job_id, "items", custom_id)


def item_doc(item: BatchItem, custom_id: str) -> dict[str, Any]:
    """The stored form of a new item: its request and variables, no attempts yet."""
    return {**item.model_dump(mode="json"), "custom_id": custom_id, "attempts": 0}


def job_view(
    scope: TenantStore, job_id: str, *, limit: int = 100, after: str | None = None
) -> JobView:
    """The job with its counts and up to ``limit`` items (results included) after ``after``."""
    job = scope.get(scope.path("llm_batches", job_id))
    if job is None:
        raise NotFound(f"no batch {job_id!r}", field="batch_id")
    items = items_of(scope, job_id)
    counts: dict[str, int] = {}
    for _, doc in items:
        counts[doc["state"]] = counts.get(doc["state"], 0) + 1
    page = [(cid, doc) for cid, doc in sorted(items) if after is None or cid > after][:limit]
    return JobView.model_validate(
        {
            "batch_id": job_id,
            **{
                k: job.get(k)
                for k in (
                    "state",
                    "mode",
                    "feature",
                    "created_at",
                    "deadline_at",
                    "completed_at",
                    "total",
                    "batch_cost_usd",
                    "online_cost_usd",
                    "notes",
                )
            },
            "provider_batches": [
                {k: pb[k] for k in ("provider", "model", "state", "size")}
                for pb in job.get("provider_batches", [])
            ],
            "counts": counts,
            "items": [
                {
                    "id": doc["ref"],
                    "custom_id": cid,
                    "state": doc["state"],
                    "template": f"{doc['template_id']}@v{doc['template_version']}"
                    if doc.get("template_id")
                    else None,
                    "result": doc.get("result"),
                    "error": doc.get("error"),
                }
                for cid, doc in page
            ],
            "next_after": page[-1][0] if len(page) == limit else None,
        }
    )


def result_doc(response: LLMResponse) -> dict[str, Any]:
    """The stored form of an item's answer: what the caller reads back, without the provider's raw
    payload."""
    return {
        "text": response.text,
        "structured": response.structured,
        "provider": response.provider,
        "model": response.model,
        "input_tokens": response.usage.input_tokens,
        "output_tokens": response.usage.output_tokens,
        "cost_usd": response.cost_usd,
        "batch": response.batch,
        "schema_valid": response.schema_valid,
    }
