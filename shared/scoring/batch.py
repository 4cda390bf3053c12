"""Batch scoring through BigQuery: a tenant's open leads in (``open_leads``: tenant_id, lead_id,
fields_json), scores out (``lead_scores``, appended per run), with the tenant's champion model.
Cloud Scheduler runs it nightly through ``functions/scoring_jobs`` (``{"job": "batch_score"}``)."""

from __future__ import annotations

import heapq
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.bigquery import bigquery_client
from shared.errors import InvalidInput, TransientError
from shared.scoring.registry import ModelRegistry

if TYPE_CHECKING:
    from google.cloud import bigquery

    from shared.tenancy.scope import TenantStore

__all__ = ["bigquery_client", "score_open_leads"]

CHUNK = 5_000
INSERT_ROWS = 1_000


def score_open_leads(
    scope: TenantStore, client: bigquery.Client, dataset: str, *, keep_top: int = 0
) -> dict[str, Any]:
    """Score every open lead of the tenant in ``{dataset}.open_leads`` (its latest snapshot);
    with ``keep_top``, also return the highest-scored leads with their reasons (``top``), which
    the job hands to the batch explanation writer.

    Raises:
        InvalidInput: the tenant has no champion model.
        TransientError: BigQuery refused a query or an insert (the job is retried whole; rows
            carry the run id, so a partial earlier run can be told apart).
    """
    import pandas as pd
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
    run_id, now = uuid.uuid4().hex, datetime.now(UTC)
    scored = bad = 0
    top: list[tuple[int, str, int, dict[str, Any]]] = []  # min-heap: (score, lead id, seq, result)
    try:
        rows = client.query(query, job_config=config).result(page_size=CHUNK)
        buffer: list[tuple[str, dict[str, Any]]] = []

        def flush() -> int:
            if not buffer:
                return 0
            results = model.score(pd.DataFrame([fields for _, fields in buffer]), top=3)
            out = [
                {
                    "run_id": run_id,
                    "tenant_id": scope.tenant_id,
                    "lead_id": lead_id,
                    "score": r["score"],
                    "probability": r["probability"],
                    "confidence": r["confidence"],
                    "reasons_json": json.dumps([c.model_dump() for c in r["reasoning"]]),
                    "model_version": model.version,
                    "scored_at": now.isoformat(),
                }
                for (lead_id, _), r in zip(buffer, results, strict=True)
            ]
            for start in range(0, len(out), INSERT_ROWS):
                errors = client.insert_rows_json(
                    f"{project}.{dataset}.lead_scores", out[start : start + INSERT_ROWS]
                )
                if errors:
                    raise TransientError(f"BigQuery refused {len(errors)} score rows: {errors[0]}")
            for (lead_id, _), r in zip(buffer, results, strict=True):
                if keep_top:
                    entry = (int(r["score"]), lead_id, len(top) + scored, r)
                    if len(top) < keep_top:
                        heapq.heappush(top, entry)
                    elif entry[:2] > top[0][:2]:
                        heapq.heapreplace(top, entry)
            count = len(buffer)
            buffer.clear()
            return count

        for row in rows:
            try:
                fields = json.loads(row["fields_json"])
                if not isinstance(fields, dict):
                    raise ValueError("not an object")
            except ValueError:
                bad += 1
                continue
            buffer.append((row["lead_id"], fields))
            if len(buffer) >= CHUNK:
                scored += flush()
        scored += flush()
    except gexc.GoogleAPICallError as exc:
        raise TransientError(f"BigQuery failed: {exc}") from exc
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
