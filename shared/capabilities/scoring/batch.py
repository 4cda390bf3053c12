"""Batch scoring through BigQuery: a tenant's open leads in (``open_leads``: tenant_id, lead_id,
fields_json), scores out (``lead_scores``, appended per run), with the tenant's champion model.
Cloud Scheduler runs it nightly through ``functions/scoring_jobs`` (``{"job": "batch_score"}``)."""

from __future__ import annotations

import heapq
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

from shared.capabilities.scoring.registry import ModelRegistry
from shared.core.bigquery import bigquery_client
from shared.core.errors import InvalidInput, TransientError

if TYPE_CHECKING:
    from google.cloud import bigquery

    from shared.core.tenancy.scope import TenantStore

__all__ = ["bigquery_client", "score_open_leads"]

CHUNK = 5_000
INSERT_ROWS = 1_000


class TopLead(TypedDict):
    """One of the highest-scored leads of a batch run, with its reasons (for explanations)."""

    lead_id: str
    score: int
    confidence: float
    reasoning: list[dict[str, Any]]


class BatchRun(TypedDict):
    """What a batch scoring run did."""

    run_id: str
    model_version: str
    scored: int
    skipped_bad_rows: int
    top: list[TopLead]


def score_open_leads(
    scope: TenantStore, client: bigquery.Client, dataset: str, *, keep_top: int = 0
) -> BatchRun:
    """Score every open lead of the tenant in ``{dataset}.open_leads`` (its latest snapshot);
    with ``keep_top``, also return the highest-scored leads with their reasons (``top``), which
    the job hands to the batch explanation writer.

    Raises:
        InvalidInput: the tenant has no champion model.
        TransientError: BigQuery refused a query or an insert (the job is retried whole; rows
            carry the run id, so a partial earlier run can be told apart).
    """
    from google.api_core import exceptions as gexc
    from google.cloud import bigquery

    registry = ModelRegistry(scope)
    champion = registry.assignment().champion
    if champion is None:
        raise InvalidInput("the tenant has no scoring model yet", field="tenant_id")
    model = registry.load(champion)
    project = client.project
    # Table names come from our settings, never from a request; the tenant is a query parameter.
    table = f"`{project}.{dataset}.open_leads`"
    query = (
        f"SELECT lead_id, fields_json FROM {table} WHERE tenant_id = @tenant "  # noqa: S608
        f"AND snapshot_at = (SELECT MAX(snapshot_at) FROM {table} WHERE tenant_id = @tenant)"
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("tenant", "STRING", scope.tenant_id)]
    )
    writer = _ScoreWriter(
        model, client, f"{project}.{dataset}.lead_scores", scope.tenant_id, keep_top
    )
    bad = 0
    try:
        for row in client.query(query, job_config=config).result(page_size=CHUNK):
            fields = _fields(row["fields_json"])
            if fields is None:
                bad += 1
            else:
                writer.add(row["lead_id"], fields)
        writer.flush()
    except gexc.GoogleAPICallError as exc:
        raise TransientError(f"BigQuery failed: {exc}") from exc
    run_id, scored, top = writer.run_id, writer.scored, writer.top
    return {
        "run_id": run_id,
        "model_version": model.version,
        "scored": scored,
        "skipped_bad_rows": bad,
        "top": [
            {
                "lead_id": lead_id,
                "score": r["score"],
                "confidence": r["confidence"],
                "reasoning": [c.model_dump() for c in r["reasoning"]],
            }
            for _, lead_id, _, r in sorted(top, key=lambda e: e[:2], reverse=True)
        ],
    }


def _fields(raw: Any) -> dict[str, Any] | None:
    """A row's ``fields_json`` as an object; None when it is not one (the row is skipped)."""
    try:
        fields = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return fields if isinstance(fields, dict) else None


class _ScoreWriter:
    """Scores leads in chunks of ``CHUNK``, inserts the rows into BigQuery under one run id, and
    keeps the ``keep_top`` highest scores (a min-heap of (score, lead id, seq, result))."""

    def __init__(
        self, model: Any, client: bigquery.Client, table: str, tenant_id: str, keep_top: int
    ) -> None:
        self.run_id, self.now = uuid.uuid4().hex, datetime.now(UTC)
        self.scored = 0
        self.top: list[tuple[int, str, int, dict[str, Any]]] = []
        self._model, self._client, self._table = model, client, table
        self._tenant, self._keep_top = tenant_id, keep_top
        self._buffer: list[tuple[str, dict[str, Any]]] = []

    def add(self, lead_id: str, fields: dict[str, Any]) -> None:
        self._buffer.append((lead_id, fields))
        if len(self._buffer) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        import pandas as pd

        buffer = self._buffer
        results = self._model.score(pd.DataFrame([fields for _, fields in buffer]), top=3)
        out = [
            {
                "run_id": self.run_id,
                "tenant_id": self._tenant,
                "lead_id": lead_id,
                "score": r["score"],
                "probability": r["probability"],
                "confidence": r["confidence"],
                "reasons_json": json.dumps([c.model_dump() for c in r["reasoning"]]),
                "model_version": self._model.version,
                "scored_at": self.now.isoformat(),
            }
            for (lead_id, _), r in zip(buffer, results, strict=True)
        ]
        for start in range(0, len(out), INSERT_ROWS):
            errors = self._client.insert_rows_json(self._table, out[start : start + INSERT_ROWS])
            if errors:
                raise TransientError(f"BigQuery refused {len(errors)} score rows: {errors[0]}")
        if self._keep_top:
            for (lead_id, _), r in zip(buffer, results, strict=True):
                self._keep(lead_id, r)
        self.scored += len(buffer)
        self._buffer = []

    def _keep(self, lead_id: str, result: dict[str, Any]) -> None:
        entry = (int(result["score"]), lead_id, len(self.top) + self.scored, result)
        if len(self.top) < self._keep_top:
            heapq.heappush(self.top, entry)
        elif entry[:2] > self.top[0][:2]:
            heapq.heapreplace(self.top, entry)
