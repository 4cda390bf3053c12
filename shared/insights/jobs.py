"""Scheduled insights work, called by Cloud Scheduler (OIDC), for every tenant or ``tenant_id``:

- ``{"job": "refresh"}``: store the insights a finished refresh batch answered, then submit the
  stale and soon-expiring ones as a new batch job (see ``refresh``).
- ``{"job": "reembed"}``: embed again the chunks an earlier embedding model made, until
  ``max_seconds`` (default 240) have passed; the next run goes on (see
  ``shared.knowledge.reembed``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import runtime
from shared.auth.rbac import Permission
from shared.entrypoints import handle_service_call, job_tenants, scheduler_caller
from shared.errors import AppError, InvalidInput
from shared.log import log_context
from shared.tenancy.scope import TenantStore

if TYPE_CHECKING:
    import flask

    from shared.web.http import Response

JOBS = ("refresh", "reembed")


def run_job(body: dict[str, Any]) -> dict[str, Any]:
    job = body.get("job")
    if job not in JOBS:
        raise InvalidInput("job must be 'refresh' or 'reembed'", field="job")
    max_seconds = body.get("max_seconds", 240)
    if not isinstance(max_seconds, int | float) or isinstance(max_seconds, bool):
        raise InvalidInput("max_seconds must be a number of seconds", field="max_seconds")
    if not 0 < max_seconds <= 840:
        raise InvalidInput("max_seconds must be above 0 and at most 840", field="max_seconds")
    deadline = time.monotonic() + float(max_seconds)
    store = runtime.document_store()
    results: dict[str, Any] = {}
    for tenant_id in job_tenants(body):
        scope = TenantStore(store, tenant_id)
        with log_context(tenant_id=tenant_id, job=job):
            try:
                if job == "reembed":
                    from shared.knowledge.reembed import reembed

                    results[tenant_id] = reembed(scope, runtime.embedder(), deadline=deadline)
                    continue
                from shared.insights.refresh import harvest, submit_refresh

                now = datetime.now(UTC)
                harvested = harvest(scope, runtime.publisher(), now)
                submitted = submit_refresh(scope, runtime.batch_service(), runtime.embedder(), now)
                results[tenant_id] = {"harvested": harvested, **submitted}
            except AppError as exc:
                if exc.retryable:
                    raise
                results[tenant_id] = {"skipped": exc.message}
    return {"job": job, "tenants": results}


def handle_job(request: flask.Request) -> Response:
    return handle_service_call(request, scheduler_caller, Permission.BATCH_RUN, run_job)
