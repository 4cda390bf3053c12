"""HTTP target of Cloud Scheduler: collect the providers' finished batches, run what they could
not answer online, settle costs (``{"job": "collect"}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.edge.http.batches import handle_job

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response


@functions_framework.http
def llm_batch_jobs(request: flask.Request) -> Response:
    return handle_job(request)
