"""HTTP: customer insights and the tenant's knowledge base (``/api/v1/ai/knowledge...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.edge.entrypoints import handle_http
from shared.edge.http.insights import ROUTES

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response


@functions_framework.http
def insights_api(request: flask.Request) -> Response:
    return handle_http(request, ROUTES)
