"""HTTP: the prompt registry, a tenant's overrides, reviews and version reports (``/api/v1/ai/prompts...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.edge.entrypoints import handle_http
from shared.edge.http.prompts import ROUTES

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response


@functions_framework.http
def prompts_api(request: flask.Request) -> Response:
    return handle_http(request, ROUTES)
