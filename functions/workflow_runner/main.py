"""HTTP target of Cloud Tasks: run one slice of a workflow from its Firestore checkpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.edge.http.workflows import handle_task

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response


@functions_framework.http
def workflow_runner(request: flask.Request) -> Response:
    return handle_task(request)
