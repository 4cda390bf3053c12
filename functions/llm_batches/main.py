"""HTTP: a tenant's background LLM jobs (``/api/v1/ai/llm/batches...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.edge.entrypoints import handle_http
from shared.edge.http.batches import ROUTES

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response


@functions_framework.http
def llm_batches(request: flask.Request) -> Response:
    return handle_http(request, ROUTES)
