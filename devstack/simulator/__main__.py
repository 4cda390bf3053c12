"""Run the provider simulator: ``python -m devstack.simulator --port 8090``."""

from __future__ import annotations

import argparse

import uvicorn

from devstack.simulator.app import build_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    uvicorn.run(build_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
