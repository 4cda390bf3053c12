"""HTTP: LLM usage, cost and policy of a tenant (``/api/v1/ai/usage...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.entrypoints import handle_http
from shared.llm.usage_api import ROUTES

if TYPE_CHECKING:
    import flask

    from shared.web.http import Response


@functions_framework.http
def usage_api(request: flask.Request) -> Response:
    return handle_http(request, ROUTES)
