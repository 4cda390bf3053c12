"""HTTP target of Cloud Scheduler for background insights work: ``{"job": "refresh"}`` (stale
insights refreshed through a batch LLM job) and ``{"job": "reembed"}`` (chunks embedded again
after a change of embedding model)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.edge.jobs.insights import handle_job

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response


@functions_framework.http
def insights_jobs(request: flask.Request) -> Response:
    return handle_job(request)
