"""HTTP: read a tenant's CRM read model (``/api/v1/ai/crm/...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.crm.api import ROUTES
from shared.entrypoints import handle_http

if TYPE_CHECKING:
    import flask

    from shared.web.http import Response


@functions_framework.http
def crm_api(request: flask.Request) -> Response:
    return handle_http(request, ROUTES)
