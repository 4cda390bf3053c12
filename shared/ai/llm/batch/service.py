"""Background LLM work nobody waits on, sent through the providers' batch interfaces at their
batch prices, collected by a scheduled function, with online calls as the fallback.

A job lives in ``tenants/{t}/llm_batches/{job_id}`` and its items in ``.../items/{custom_id}``.
Item states: ``pending`` (to run online), ``submitted`` (inside a live provider batch),
``done``, ``failed``.

- :meth:`BatchService.submit` reserves the job's worst-case cost at batch prices, stores the
  items, groups them by model and submits one provider batch per group.
- :meth:`BatchService.collect` polls each provider batch. Finished answers are recorded at the
  batch price; items the provider failed, and every item of a batch that failed, expired or is
  still running close to the job's deadline, run as ordinary online calls (at online prices).
  Finishing an item and writing its usage record is one transaction, keyed by the item, so a
  retried collector never charges an item twice. When nothing is left, the reservation is
  settled once (guarded by the job's state in the same transaction).
- Online work runs on a few threads inside the collector's own invocation, so interactive
  requests, served by other instances, never queue behind it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.ai.llm.batch._finish import JobFinisher
from shared.ai.llm.batch.jobs import (
    BatchItem,
    JobView,
    item_doc,
    item_path,
    items_of,
    job_id_for,
    job_view,
    release_lease,
    take_lease,
)
from shared.ai.llm.errors import ProviderError
from shared.ai.llm.ledger import Reservation
from shared.ai.llm.tokens import estimate_request_tokens
from shared.ai.llm.types import CallContext, LLMRequest, LLMResponse, Usage
from shared.core.errors import AppError, InvalidInput, NotFound
from shared.core.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.ai.llm.batch.providers import BatchProvider
    from shared.ai.llm.client import LLMClient
    from shared.core.tenancy.scope import TenantStore

__all__ = ["MAX_ITEMS", "BatchItem", "BatchService", "job_id_for"]
_log = get_logger("llm.batch")
MAX_ITEMS = 2_000
GROUP_SIZE = 10_000
MAX_ONLINE_ATTEMPTS = 3


@dataclass
class BatchService(JobFinisher):
    """Background LLM work for a tenant: submit items as a job, send them through the providers'
    batch interfaces (or online when ``mode`` says so), collect the results and book their usage."""

    client: LLMClient
    providers: dict[str, BatchProvider]
    mode: str = "provider"
    online_workers: int = 4
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    # --- submit ---------------------------------------------------------------------------------
    def submit(
        self,
        scope: TenantStore,
        items: list[BatchItem],
        *,
        feature: str,
        deadline: timedelta,
        job_id: str,
        submitted_by: str,
    ) -> JobView:
        """Store and dispatch a job; the same ``job_id`` again returns the existing job.

        Raises:
            InvalidInput: no items or too many; BudgetExceeded (402): the tenant's budget cannot
            cover the job's worst case at batch prices.
        """
        if not items:
            raise InvalidInput("a batch needs at least one item", field="items")
        if len(items) > MAX_ITEMS:
            raise InvalidInput(f"a batch takes at most {MAX_ITEMS} items", field="items")
        job_path = scope.path("llm_batches", job_id)
        if scope.get(job_path) is not None:
            return self.view(scope, job_id)
        reservation = self._reserve(scope.tenant_id, feature, items)
        now = self.clock()
        custom = [f"i{n:05d}" for n in range(len(items))]
        docs: list[tuple[str, dict[str, Any]]] = [
            (
                item_path(scope, job_id, cid),
                {
                    **item.model_dump(mode="json"),
                    "custom_id": cid,
                    "state": "pending",
                    "attempts": 0,
                },
            )
            for cid, item in zip(custom, items, strict=True)
        ]
        job = {
            "job_id": job_id,
            "tenant_id": scope.tenant_id,
            "feature": feature,
            "state": "open",
            "mode": self.mode,
            "created_at": now,
            "deadline_at": now + deadline,
            "submitted_by": submitted_by,
            "total": len(items),
            "provider_batches": [],
            "notes": [],
            "reservation": {
                "period": reservation.period,
                "tokens": reservation.tokens,
                "usd": reservation.usd,
                "active": reservation.active,
            },
        }
        scope.set_many(docs)
        scope.set(job_path, job)  # last: a collector never sees a job without its items
        if self.mode == "provider":
            self._dispatch(scope, job, {cid: item for cid, item in zip(custom, items, strict=True)})
            scope.set(job_path, job)
        return self.view(scope, job_id)

    def _reserve(self, tenant_id: str, feature: str, items: list[BatchItem]) -> Reservation:
        ledger = self.client.ledger
        tokens = sum(estimate_request_tokens(i.request) + i.request.max_tokens for i in items)
        usd = sum(self._worst_case(i.request) for i in items)
        policy = self.client.policy_for(tenant_id)
        if ledger is None:
            return Reservation(tenant_id, feature, "", tokens, usd, active=False)
        return ledger.reserve(tenant_id, feature, policy, tokens, usd)

    def _worst_case(self, request: LLMRequest) -> float:
        model = self.batch_model(request)
        if model is None:
            return self.client.worst_case_usd(request)
        usage = Usage(
            input_tokens=estimate_request_tokens(request), output_tokens=request.max_tokens
        )
        return self.client.catalog.cost(model, usage, self.clock().date(), batch=True)

    def batch_model(self, request: LLMRequest) -> str | None:
        """The first model of the request's tier (or its pinned model) with a batch interface."""
        catalog = self.client.catalog
        names = (request.model,) if request.model else catalog.tier(request.tier).models
        for name in names:
            if catalog.models[name].provider in self.providers:
                return name
        return None

    def _dispatch(
        self, scope: TenantStore, job: dict[str, Any], items: dict[str, BatchItem]
    ) -> None:
        groups: dict[str, list[str]] = {}
        for cid, item in items.items():
            model = self.batch_model(item.request)
            if model is not None:
                groups.setdefault(model, []).append(cid)
        for model, cids in groups.items():
            provider = self.client.catalog.models[model].provider
            for start in range(0, len(cids), GROUP_SIZE):
                part = cids[start : start + GROUP_SIZE]
                try:
                    batch_id = self.providers[provider].submit(
                        model, [(cid, items[cid].request) for cid in part]
                    )
                except ProviderError as exc:
                    # Not dropped: the items stay pending and the collector runs them online.
                    job["notes"].append(f"{provider} refused the batch: {exc.message[:200]}")
                    _log.warning("batch submission failed; items will run online: %s", exc.message)
                    continue
                job["provider_batches"].append(
                    {
                        "provider": provider,
                        "model": model,
                        "batch_id": batch_id,
                        "state": "submitted",
                        "size": len(part),
                    }
                )
                scope.set_many(
                    [
                        (
                            item_path(scope, job["job_id"], cid),
                            {
                                **item_doc(items[cid], cid),
                                "state": "submitted",
                                "batch_id": batch_id,
                            },
                        )
                        for cid in part
                    ]
                )

    # --- collect --------------------------------------------------------------------------------
    def collect(self, scope: TenantStore, job_id: str, *, lease_s: float = 540) -> JobView:
        """Advance one job as far as it can go now; returns its view.

        Raises:
            NotFound: no such job; TransientError: the store failed (the scheduler retries).
        """
        job_path = scope.path("llm_batches", job_id)
        if not take_lease(scope, job_path, lease_s, self.clock()):
            return self.view(scope, job_id)
        job = scope.get(job_path)
        if job is None:
            raise NotFound(f"no batch {job_id!r}", field="batch_id")
        if job["state"] != "open":
            return self.view(scope, job_id)
        now = self.clock()
        window = job["deadline_at"] - job["created_at"]
        give_up_at = job["deadline_at"] - min(window * 0.2, timedelta(hours=1))
        for pb in job["provider_batches"]:
            if pb["state"] == "submitted":
                self._poll(scope, job, pb, late=now >= give_up_at)
        scope.set(job_path, {**job, "lease_until": job.get("lease_until")})
        self._run_online(scope, job)
        self._maybe_finish(scope, job)
        release_lease(scope, job_path)
        return self.view(scope, job_id)

    def _poll(
        self, scope: TenantStore, job: dict[str, Any], pb: dict[str, Any], *, late: bool
    ) -> None:
        provider = self.providers.get(pb["provider"])
        cids = [
            cid
            for cid, doc in items_of(scope, job["job_id"])
            if doc.get("batch_id") == pb["batch_id"] and doc["state"] == "submitted"
        ]
        if provider is None:
            self._to_online(scope, job, cids, f"{pb['provider']} has no batch interface configured")
            pb["state"] = "abandoned"
            return
        try:
            status = provider.status(pb["batch_id"])
        except ProviderError as exc:
            job["notes"].append(f"polling {pb['batch_id']} failed: {exc.message[:200]}")
            if late:
                self._to_online(scope, job, cids, "provider unreachable near the deadline")
                pb["state"] = "abandoned"
            return
        if status.state == "running":
            if late:
                try:
                    provider.cancel(pb["batch_id"])
                except ProviderError as exc:
                    job["notes"].append(f"cancelling {pb['batch_id']} failed: {exc.message[:200]}")
                self._to_online(scope, job, cids, "batch still running near the deadline")
                pb["state"] = "abandoned"
            return
        results: dict[str, LLMResponse | str] = {}
        if status.state != "failed":
            docs = dict(items_of(scope, job["job_id"]))
            requests = {cid: LLMRequest.model_validate(docs[cid]["request"]) for cid in cids}
            results = provider.results(pb["batch_id"], pb["model"], requests)
        finished = {cid: r for cid, r in results.items() if isinstance(r, LLMResponse)}
        self._finish_items(scope, job, finished)
        leftover = [cid for cid in cids if cid not in finished]
        reasons = {cid: r for cid, r in results.items() if isinstance(r, str)}
        self._to_online(scope, job, leftover, f"batch {status.state}", reasons)
        pb["state"] = status.state

    def _to_online(
        self,
        scope: TenantStore,
        job: dict[str, Any],
        cids: list[str],
        why: str,
        reasons: dict[str, str] | None = None,
    ) -> None:
        if not cids:
            return
        reasons = reasons or {}
        docs = dict(items_of(scope, job["job_id"]))
        scope.set_many(
            [
                (
                    item_path(scope, job["job_id"], cid),
                    {**docs[cid], "state": "pending", "batch_error": reasons.get(cid, why)},
                )
                for cid in cids
                if docs.get(cid, {}).get("state") == "submitted"
            ]
        )

    def _run_online(self, scope: TenantStore, job: dict[str, Any]) -> None:
        pending = [
            (cid, doc) for cid, doc in items_of(scope, job["job_id"]) if doc["state"] == "pending"
        ]
        if not pending:
            return

        def one(entry: tuple[str, dict[str, Any]]) -> tuple[str, LLMResponse | AppError]:
            cid, doc = entry
            item = BatchItem.model_validate(doc)
            ctx = CallContext(
                tenant_id=scope.tenant_id,
                feature=job["feature"],
                crm_object=item.crm_object,
                template_id=item.template_id,
                template_version=item.template_version,
            )
            try:
                return cid, self.client.complete(item.request, ctx)
            except AppError as exc:
                return cid, exc

        with ThreadPoolExecutor(max_workers=self.online_workers) as pool:
            outcomes = list(pool.map(one, pending))
        done = {cid: r for cid, r in outcomes if isinstance(r, LLMResponse)}
        self._finish_items(scope, job, done, online=True)
        docs = dict(pending)
        retry: list[tuple[str, dict[str, Any]]] = []
        failed: list[tuple[str, dict[str, Any]]] = []
        for cid, outcome in outcomes:
            if isinstance(outcome, AppError):
                attempts = int(docs[cid].get("attempts", 0)) + 1
                row = {**docs[cid], "attempts": attempts, "error": outcome.message[:300]}
                permanent = not outcome.retryable or attempts >= MAX_ONLINE_ATTEMPTS
                (failed if permanent else retry).append(
                    (
                        item_path(scope, job["job_id"], cid),
                        {**row, "state": "failed" if permanent else "pending"},
                    )
                )
        if retry or failed:
            scope.set_many(retry + failed)

    def view(
        self, scope: TenantStore, job_id: str, *, limit: int = 100, after: str | None = None
    ) -> JobView:
        """The job with its counts and up to ``limit`` items (results included) after ``after``."""
        return job_view(scope, job_id, limit=limit, after=after)
