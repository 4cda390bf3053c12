"""HTTP: workflow runs (``/api/v1/ai/workflows...``): start, read, continue, cancel, list."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.edge.entrypoints import handle_http
from shared.edge.http.workflows import ROUTES

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response


@functions_framework.http
def workflows_api(request: flask.Request) -> Response:
    return handle_http(request, ROUTES)
