"""HTTP target of Cloud Scheduler: scheduled retraining and drift checks of scoring models."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.edge.jobs.scoring import handle_job

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response


@functions_framework.http
def scoring_jobs(request: flask.Request) -> Response:
    return handle_job(request)
