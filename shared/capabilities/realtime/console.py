"""The operator console's pages (``console/public``), served by the real-time service: one
service fewer, and the socket on the console's own origin (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

if TYPE_CHECKING:
    from starlette.requests import Request

CONSOLE_DIR = Path(__file__).resolve().parents[3] / "console" / "public"  # repo or build


async def console_config(request: Request) -> JSONResponse:
    """``GET /console/config.json``: what the console needs to know, nothing secret: the API's
    URL, this service's socket URL, and how users sign in (a demo-role token service locally,
    never in the cloud; the CRM's OIDC provider in the cloud)."""
    from shared.core.config import get_settings

    settings = get_settings()
    socket = str(request.base_url).replace("https://", "wss://").replace("http://", "ws://")
    if settings.is_cloud:
        # TLS ends before the container on Cloud Run: the browser's page is https, so is its socket.
        socket = socket.replace("ws://", "wss://", 1)
    return JSONResponse(
        {
            "api": settings.console_api_url,
            "socket": socket.rstrip("/"),
            "environment": settings.environment,
            "demo_token_url": None if settings.is_cloud else settings.console_demo_token_url,
            "oidc": {
                "issuer": settings.console_oidc_issuer,
                "client_id": settings.console_oidc_client_id,
            }
            if settings.console_oidc_issuer
            else None,
            "simulated_models": settings.llm_simulator_url is not None,
        },
        headers={"Cache-Control": "no-store"},
    )


def console_routes() -> list[BaseRoute]:
    """The operator console's static pages (``console/``), when this build carries them."""
    from starlette.responses import RedirectResponse
    from starlette.staticfiles import StaticFiles

    if not (CONSOLE_DIR / "index.html").is_file():
        return []

    async def home(_: Request) -> RedirectResponse:
        return RedirectResponse("/console/")

    return [
        Route("/", home),
        Route("/console/config.json", console_config),
        Mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console"),
    ]
