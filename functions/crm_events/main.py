"""Pub/Sub push target for topic ``crm-events``: CRM changes into the tenant read model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.edge.entrypoints import handle_pubsub_crm_event

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response


@functions_framework.http
def handle_crm_event(request: flask.Request) -> Response:
    # The push subscription's OIDC token is verified in code (issue 15, L7).
    return handle_pubsub_crm_event(request)
