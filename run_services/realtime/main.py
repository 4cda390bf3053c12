"""Cloud Run entry point of the real-time WebSocket service (logic: shared/capabilities/realtime/,
wiring: shared/edge/realtime.py).

The container runs ``uvicorn main:app --host 0.0.0.0 --port $PORT --ws websockets-sansio
--no-access-log`` (see the Dockerfile beside this file)."""

from __future__ import annotations

from shared.core.log import configure_logging
from shared.edge import realtime

configure_logging()
app = realtime.app()
