"""Scheduled scoring work, called by Cloud Scheduler (OIDC) or on demand by our own services:
``{"job": "train"}`` retrains every tenant (or ``tenant_id``) and promotes only better models;
``{"job": "drift"}`` checks each champion for drift and, with ``"retrain_on_drift": true``,
retrains where it found some; ``{"job": "batch_score"}`` scores each tenant's open leads from
BigQuery into BigQuery (see ``batch``); with ``"explain_top": N`` the N highest-scored leads get
plain-language explanations through a batch LLM job (see ``explain``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from shared.capabilities.scoring import drift
from shared.capabilities.scoring.registry import ModelRegistry
from shared.capabilities.scoring.service import train_from_read_model
from shared.core.auth.rbac import Permission
from shared.core.config import get_settings
from shared.core.errors import AppError
from shared.core.log import log_context
from shared.core.tenancy.scope import TenantStore
from shared.core.web.contract import Int, JobBody
from shared.edge.entrypoints import handle_service_call, job_tenants, scheduler_caller

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response
    from shared.edge.services import Services


class ScoringJob(JobBody):
    """A scheduled scoring job: train, check drift (retraining on it when asked) or batch-score open
    leads from BigQuery."""

    job: Literal["train", "drift", "batch_score"]
    explain_top: Int = Field(0, ge=0, le=2000, description="batch_score: explain the top N")
    retrain_on_drift: bool = False


def run_job(body: ScoringJob, services: Services) -> dict[str, Any]:
    """Run the job for each tenant it covers; a tenant's permanent error is reported and the others
    go on, a transient one raises (Scheduler retries)."""
    job, explain_top = body.job, body.explain_top
    store = services.store
    tenants = job_tenants(body, store)
    results: dict[str, Any] = {}
    for tenant_id in tenants:
        scope = TenantStore(store, tenant_id)
        with log_context(tenant_id=tenant_id, job=job):
            try:
                if job == "train":
                    results[tenant_id] = train_from_read_model(scope)
                    continue
                if job == "batch_score":
                    from shared.capabilities.scoring.batch import bigquery_client, score_open_leads

                    settings = get_settings()
                    client = bigquery_client(settings)
                    try:
                        keep = explain_top
                        run = score_open_leads(
                            scope, client, settings.bigquery_dataset, keep_top=keep
                        )
                        result: dict[str, Any] = {k: v for k, v in run.items() if k != "top"}
                        if keep:
                            from shared.capabilities.scoring.explain import submit_explanations

                            result["explanations"] = submit_explanations(
                                services.batches, scope, run["run_id"], run["top"]
                            )
                        results[tenant_id] = result
                    finally:
                        client.close()  # type: ignore[no-untyped-call]
                    continue
                registry = ModelRegistry(scope)
                champion = registry.assignment().champion
                if champion is None:
                    results[tenant_id] = {"status": "no model"}
                    continue
                report = drift.check(scope, registry.load(champion), services.publisher)
                if report["alerts"] and body.retrain_on_drift:
                    report["retrained"] = train_from_read_model(scope)
                results[tenant_id] = report
            except AppError as exc:
                if exc.retryable:
                    raise
                results[tenant_id] = {"skipped": exc.message}
    return {"job": job, "tenants": results}


def handle_job(request: flask.Request) -> Response:
    """The Scheduler target of ``functions/scoring_jobs``."""
    return handle_service_call(request, scheduler_caller, Permission.BATCH_RUN, ScoringJob, run_job)
