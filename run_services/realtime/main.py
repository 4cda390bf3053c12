"""Cloud Run entry point of the real-time WebSocket service (logic: shared/realtime/app.py).

The container runs ``uvicorn main:app --host 0.0.0.0 --port $PORT --ws websockets-sansio
--no-access-log`` (see the Dockerfile beside this file)."""

from __future__ import annotations

from shared.log import configure_logging
from shared.realtime.app import build_app

configure_logging()
app = build_app()
