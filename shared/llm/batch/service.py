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

import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.errors import AppError, InvalidInput, NotFound
from shared.llm.client import CallContext
from shared.llm.errors import ProviderError
from shared.llm.ledger import Reservation, UsageRecord
from shared.llm.schema import matches_schema
from shared.llm.tokens import estimate_request_tokens
from shared.llm.types import LLMRequest, LLMResponse, Usage
from shared.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.llm.batch.providers import BatchProvider
    from shared.llm.client import LLMClient
    from shared.tenancy.scope import TenantStore

_log = get_logger("llm.batch")
MAX_ITEMS = 2_000
GROUP_SIZE = 10_000
CHUNK = 150  # items finished per transaction (two writes each, under Firestore's 500)
MAX_ONLINE_ATTEMPTS = 3
FINAL = ("done", "failed")


class BatchItem(BaseModel):
    """One request of a job, with what its usage record must name."""

    ref: str  # the caller's id for the item (a lead id, ...)
    request: LLMRequest
    crm_object: str | None = None
    template_id: str | None = None
    template_version: str | None = None


def job_id_for(tenant_id: str, idempotency_key: str | None) -> str:
    if idempotency_key:
        return "b" + hashlib.sha256(f"{tenant_id}|{idempotency_key}".encode()).hexdigest()[:23]
    return "b" + uuid.uuid4().hex[:23]


@dataclass
class BatchService:
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
    ) -> dict[str, Any]:
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
                self._item_path(scope, job_id, cid),
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
                            self._item_path(scope, job["job_id"], cid),
                            {
                                **self._item_doc(items[cid], cid),
                                "state": "submitted",
                                "batch_id": batch_id,
                            },
                        )
                        for cid in part
                    ]
                )

    # --- collect --------------------------------------------------------------------------------
    def collect(self, scope: TenantStore, job_id: str, *, lease_s: float = 540) -> dict[str, Any]:
        """Advance one job as far as it can go now; returns its view.

        Raises:
            NotFound: no such job; TransientError: the store failed (the scheduler retries).
        """
        job_path = scope.path("llm_batches", job_id)
        if not self._lease(scope, job_path, lease_s):
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
        self._release(scope, job_path)
        return self.view(scope, job_id)

    def _poll(
        self, scope: TenantStore, job: dict[str, Any], pb: dict[str, Any], *, late: bool
    ) -> None:
        provider = self.providers.get(pb["provider"])
        cids = [
            cid
            for cid, doc in self._items(scope, job["job_id"])
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
            docs = dict(self._items(scope, job["job_id"]))
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
        docs = dict(self._items(scope, job["job_id"]))
        scope.set_many(
            [
                (
                    self._item_path(scope, job["job_id"], cid),
                    {**docs[cid], "state": "pending", "batch_error": reasons.get(cid, why)},
                )
                for cid in cids
                if docs.get(cid, {}).get("state") == "submitted"
            ]
        )

    def _run_online(self, scope: TenantStore, job: dict[str, Any]) -> None:
        pending = [
            (cid, doc)
            for cid, doc in self._items(scope, job["job_id"])
            if doc["state"] == "pending"
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
                        self._item_path(scope, job["job_id"], cid),
                        {**row, "state": "failed" if permanent else "pending"},
                    )
                )
        if retry or failed:
            scope.set_many(retry + failed)

    def _finish_items(
        self,
        scope: TenantStore,
        job: dict[str, Any],
        results: dict[str, LLMResponse],
        *,
        online: bool = False,
    ) -> None:
        """Mark items done with their answers; for batch answers also write the usage record in
        the same transaction (online calls were recorded by the client already)."""
        ledger = self.client.ledger
        today = self.clock().date()
        cids = sorted(results)
        for start in range(0, len(cids), CHUNK):
            part = cids[start : start + CHUNK]
            records: dict[str, UsageRecord] = {}

            def _tx(
                tx: Any, part: list[str] = part, records: dict[str, UsageRecord] = records
            ) -> list[str]:
                records.clear()  # a retried transaction starts over
                paths = {cid: self._item_path(scope, job["job_id"], cid) for cid in part}
                current = {cid: tx.get(path) for cid, path in paths.items()}
                changed = []
                for cid in part:
                    doc = current[cid]
                    if doc is None or doc["state"] in FINAL:
                        continue
                    response = results[cid]
                    request = LLMRequest.model_validate(doc["request"])
                    if not online:
                        response = self._priced(response, request, today)
                    tx.set(paths[cid], {**doc, "state": "done", "result": _result(response)})
                    if not online and ledger is not None:
                        record = self._record(job, doc, response)
                        records[cid] = record
                        tx.set(ledger.record_path(record), ledger.record_doc(record))
                    changed.append(cid)
                return changed

            changed = scope.run_transaction(_tx)
            if ledger is not None:
                for cid in changed:
                    if cid in records:
                        ledger.aggregate(records[cid])

    def _priced(self, response: LLMResponse, request: LLMRequest, today: Any) -> LLMResponse:
        cost = self.client.catalog.cost(response.model, response.usage, today, batch=True)
        valid = (
            matches_schema(request.response_schema, response.structured)
            if request.response_schema is not None
            else None
        )
        return response.model_copy(update={"cost_usd": cost, "batch": True, "schema_valid": valid})

    def _record(
        self, job: dict[str, Any], doc: dict[str, Any], response: LLMResponse
    ) -> UsageRecord:
        return UsageRecord(
            call_id=f"batch-{job['job_id']}-{doc['custom_id']}",
            tenant_id=job["tenant_id"],
            feature=job["feature"],
            crm_object=doc.get("crm_object"),
            template_id=doc.get("template_id"),
            template_version=doc.get("template_version"),
            provider=response.provider,
            model=response.model,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            cached_input_tokens=response.usage.cached_input_tokens,
            cost_usd=response.cost_usd,
            latency_ms=0.0,
            cache_hit=False,
            outcome="ok",
            schema_valid=response.schema_valid,
            batch=True,
            at=self.clock(),
        )

    def _maybe_finish(self, scope: TenantStore, job: dict[str, Any]) -> None:
        items = [doc for _, doc in self._items(scope, job["job_id"])]
        if any(doc["state"] not in FINAL for doc in items):
            return
        batch_cost = sum(
            d["result"]["cost_usd"] for d in items if d["state"] == "done" and d["result"]["batch"]
        )
        batch_tokens = sum(
            d["result"]["input_tokens"] + d["result"]["output_tokens"]
            for d in items
            if d["state"] == "done" and d["result"]["batch"]
        )
        online_cost = sum(
            d["result"]["cost_usd"]
            for d in items
            if d["state"] == "done" and not d["result"]["batch"]
        )
        job_path = scope.path("llm_batches", job["job_id"])
        summary = {
            "state": "completed",
            "completed_at": self.clock(),
            "done": sum(d["state"] == "done" for d in items),
            "failed": sum(d["state"] == "failed" for d in items),
            "batch_cost_usd": round(batch_cost, 9),
            "online_cost_usd": round(online_cost, 9),
        }

        def once(tx: Any) -> bool:
            current = tx.get(job_path)
            if current is None or current["state"] != "open":
                return False
            tx.set(
                job_path,
                {
                    **current,
                    **summary,
                    "notes": job["notes"],
                    "provider_batches": job["provider_batches"],
                },
            )
            return True

        res = job["reservation"]
        reservation = Reservation(
            job["tenant_id"],
            job["feature"],
            res["period"],
            res["tokens"],
            res["usd"],
            res["active"],
        )
        ledger = self.client.ledger
        if ledger is None:
            scope.run_transaction(once)
            return
        ledger.settle(
            reservation,
            self.client.policy_for(job["tenant_id"]),
            batch_tokens,
            batch_cost,
            once=once,
        )

    # --- leases, reads --------------------------------------------------------------------------
    def _lease(self, scope: TenantStore, job_path: str, lease_s: float) -> bool:
        now = self.clock()

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

    def _release(self, scope: TenantStore, job_path: str) -> None:
        def _drop(tx: Any) -> None:
            job = tx.get(job_path)
            if job is not None:
                tx.set(job_path, {**job, "lease_until": None})

        scope.run_transaction(_drop)

    def _items(self, scope: TenantStore, job_id: str) -> list[tuple[str, dict[str, Any]]]:
        return scope.query(scope.path("llm_batches", job_id, "items"))

    @staticmethod
    def _item_path(scope: TenantStore, job_id: str, custom_id: str) -> str:
        return scope.path("llm_batches", job_id, "items", custom_id)

    @staticmethod
    def _item_doc(item: BatchItem, custom_id: str) -> dict[str, Any]:
        return {**item.model_dump(mode="json"), "custom_id": custom_id, "attempts": 0}

    def view(
        self, scope: TenantStore, job_id: str, *, limit: int = 100, after: str | None = None
    ) -> dict[str, Any]:
        """The job with its counts and up to ``limit`` items (results included) after ``after``."""
        job = scope.get(scope.path("llm_batches", job_id))
        if job is None:
            raise NotFound(f"no batch {job_id!r}", field="batch_id")
        items = self._items(scope, job_id)
        counts: dict[str, int] = {}
        for _, doc in items:
            counts[doc["state"]] = counts.get(doc["state"], 0) + 1
        page = [(cid, doc) for cid, doc in sorted(items) if after is None or cid > after][:limit]
        return {
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


def _result(response: LLMResponse) -> dict[str, Any]:
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
