"""Cloud Run entry point of the real-time WebSocket service (logic: shared/capabilities/realtime/app.py).

The container runs ``uvicorn main:app --host 0.0.0.0 --port $PORT --ws websockets-sansio
--no-access-log`` (see the Dockerfile beside this file)."""

from __future__ import annotations

from shared.capabilities.realtime.app import build_app
from shared.core.log import configure_logging

configure_logging()
app = build_app()
