"""HTTP: LLM usage, cost and policy of a tenant (``/api/v1/ai/usage...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.edge.entrypoints import handle_http
from shared.edge.http.usage import ROUTES

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response


@functions_framework.http
def usage_api(request: flask.Request) -> Response:
    return handle_http(request, ROUTES)
