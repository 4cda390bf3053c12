"""The real-time WebSocket service wired to this process's services.

Cloud Run runs :func:`app` (``run_services/realtime/main.py``); locally ``python -m
shared.edge.realtime --port 8096`` runs the same app under uvicorn (``scripts/up`` does)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.applications import Starlette


def app() -> Starlette:
    """The service on the process's verifier, store and publisher, each built on first use."""
    from shared.capabilities.realtime.app import build_app
    from shared.edge.services import current

    return build_app(
        verifier=lambda: current().verifier,
        store=lambda: current().store,
        publisher=lambda: current().publisher,
    )


def main() -> None:
    """Serve :func:`app` locally."""
    import uvicorn

    from shared.core.log import configure_logging

    parser = argparse.ArgumentParser(prog="python -m shared.edge.realtime")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8096)
    args = parser.parse_args()
    configure_logging()
    # No access log: request lines are noise at a thousand sockets; tokens never travel in URLs.
    uvicorn.run(app(), host=args.host, port=args.port, ws="websockets-sansio", access_log=False)


if __name__ == "__main__":
    main()
