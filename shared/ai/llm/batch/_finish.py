"""Finishing a batch job's items and the job itself, exactly once: an answer and its usage
record in one transaction per chunk of items, and the budget settlement in the transaction
that closes the job. Part of :class:`~shared.ai.llm.batch.service.BatchService`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.ai.llm.batch.jobs import item_path, items_of, result_doc
from shared.ai.llm.ledger import Reservation, UsageRecord
from shared.ai.llm.schema import matches_schema
from shared.ai.llm.types import LLMRequest, LLMResponse

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from shared.ai.llm.client import LLMClient
    from shared.core.tenancy.scope import TenantStore

CHUNK = 150  # items finished per transaction (two writes each, under Firestore's 500)
FINAL = ("done", "failed")


class JobFinisher:
    """What finishes a batch job's items, shared by the collector and the online fallback: results
    recorded once per item, usage booked, the job's counts kept."""

    client: LLMClient
    clock: Callable[[], datetime]

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
                paths = {cid: item_path(scope, job["job_id"], cid) for cid in part}
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
                    tx.set(paths[cid], {**doc, "state": "done", "result": result_doc(response)})
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
        items = [doc for _, doc in items_of(scope, job["job_id"])]
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
