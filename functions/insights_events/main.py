"""Pub/Sub push target for ``ai-events`` (filtered to customer.history_changed): index the
customer's new interaction for retrieval."""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.edge.entrypoints import handle_pubsub_history_event

if TYPE_CHECKING:
    import flask

    from shared.core.web.http import Response


@functions_framework.http
def handle_history_event(request: flask.Request) -> Response:
    # The push subscription's OIDC token is verified in code (issue 15, L7).
    return handle_pubsub_history_event(request)
