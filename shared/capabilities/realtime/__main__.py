"""Run the real-time service locally: ``python -m shared.capabilities.realtime --port 8096`` (scripts/up does)."""

from __future__ import annotations

import argparse


def main() -> None:
    import uvicorn

    from shared.capabilities.realtime.app import build_app
    from shared.core.log import configure_logging

    parser = argparse.ArgumentParser(prog="python -m shared.capabilities.realtime")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8096)
    args = parser.parse_args()
    configure_logging()
    # No access log: request lines are noise at a thousand sockets; tokens never travel in URLs.
    uvicorn.run(
        build_app(), host=args.host, port=args.port, ws="websockets-sansio", access_log=False
    )


if __name__ == "__main__":
    main()
