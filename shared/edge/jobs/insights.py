"""Scheduled insights work, called by Cloud Scheduler (OIDC), for every tenant or ``tenant_id``:

- ``{"job": "refresh"}``: store the insights a finished refresh batch answered, then submit the
  stale and soon-expiring ones as a new batch job (see ``refresh``).
- ``{"job": "reembed"}``: embed again the chunks an earlier embedding model made, until
  ``max_seconds`` (default 240) have passed; the next run goes on (see
  ``shared.capabilities.knowledge.reembed``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from shared.core.auth.rbac import Permission
from shared.core.web.contract import JobBody
from shared.edge.entrypoints import for_each_tenant, handle_service_call, scheduler_caller

if TYPE_CHECKING:
    import flask

    from shared.core.tenancy.scope import TenantStore
    from shared.core.web.http import Response
    from shared.edge.services import Services

JOBS = ("refresh", "reembed")


class InsightsJob(JobBody):
    """A scheduled insights job: refresh stale insights (through batch LLM calls) or re-embed for a
    new embedding model, within ``max_seconds``."""

    job: Literal["refresh", "reembed"]
    max_seconds: float = Field(240, gt=0, le=840, description="Stop and resume next run after")


def run_job(body: InsightsJob, services: Services) -> dict[str, Any]:
    """Run the job for each tenant it covers (:func:`~shared.edge.entrypoints.for_each_tenant`),
    within one deadline for all of them."""
    deadline = time.monotonic() + body.max_seconds

    def one(scope: TenantStore) -> Any:
        if body.job == "reembed":
            from shared.capabilities.knowledge.reembed import reembed

            return reembed(scope, services.embedder, deadline=deadline)
        from shared.capabilities.insights.refresh import harvest, submit_refresh

        now = datetime.now(UTC)
        harvested = harvest(scope, services.publisher, now)
        submitted = submit_refresh(scope, services.batches, services.embedder, now)
        return {"harvested": harvested, **submitted}

    return {"job": body.job, "tenants": for_each_tenant(body, services.store, body.job, one)}


def handle_job(request: flask.Request) -> Response:
    """The Scheduler target of ``functions/insights_jobs``."""
    return handle_service_call(
        request, scheduler_caller, Permission.BATCH_RUN, InsightsJob, run_job
    )
