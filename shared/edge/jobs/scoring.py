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
from shared.core.web.contract import Int, JobBody
from shared.edge.entrypoints import for_each_tenant, handle_service_call, scheduler_caller

if TYPE_CHECKING:
    import flask

    from shared.core.tenancy.scope import TenantStore
    from shared.core.web.http import Response
    from shared.edge.services import Services


class ScoringJob(JobBody):
    """A scheduled scoring job: train, check drift (retraining on it when asked) or batch-score open
    leads from BigQuery."""

    job: Literal["train", "drift", "batch_score"]
    explain_top: Int = Field(0, ge=0, le=2000, description="batch_score: explain the top N")
    retrain_on_drift: bool = False


def run_job(body: ScoringJob, services: Services) -> dict[str, Any]:
    """Run the job for each tenant it covers (:func:`~shared.edge.entrypoints.for_each_tenant`)."""

    def one(scope: TenantStore) -> Any:
        if body.job == "train":
            return train_from_read_model(scope).model_dump(mode="json")
        if body.job == "batch_score":
            return _batch_score(scope, body.explain_top, services)
        return _drift(scope, body.retrain_on_drift, services)

    return {"job": body.job, "tenants": for_each_tenant(body, services.store, body.job, one)}


def _batch_score(scope: TenantStore, explain_top: int, services: Services) -> dict[str, Any]:
    """Score the tenant's open leads from BigQuery; explain the top ``explain_top`` in a batch."""
    from shared.capabilities.scoring.batch import bigquery_client, score_open_leads

    settings = get_settings()
    client = bigquery_client(settings)
    try:
        run = score_open_leads(scope, client, settings.bigquery_dataset, keep_top=explain_top)
    finally:
        client.close()  # type: ignore[no-untyped-call]
    result: dict[str, Any] = {k: v for k, v in run.items() if k != "top"}
    if explain_top:
        from shared.capabilities.scoring.explain import submit_explanations

        result["explanations"] = submit_explanations(
            services.batches, scope, run["run_id"], run["top"]
        )
    return result


def _drift(scope: TenantStore, retrain: bool, services: Services) -> dict[str, Any]:
    """Check the champion for drift, retraining on an alert when the job asks."""
    registry = ModelRegistry(scope)
    champion = registry.assignment().champion
    if champion is None:
        return {"status": "no model"}
    report = drift.check(scope, registry.load(champion), services.publisher)
    if report["alerts"] and retrain:
        report["retrained"] = train_from_read_model(scope).model_dump(mode="json")
    return report


def handle_job(request: flask.Request) -> Response:
    """The Scheduler target of ``functions/scoring_jobs``."""
    return handle_service_call(request, scheduler_caller, Permission.BATCH_RUN, ScoringJob, run_job)
