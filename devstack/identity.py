"""Google's part in service-to-service calls, played locally (issue 15: production auth mode).

In the cloud, Pub/Sub push, Cloud Tasks and Cloud Scheduler attach a Google-signed OIDC ID token
for a service account, with the target URL as audience, and the functions verify it against
Google's JWKS. Locally this process is that issuer:

- ``GET /oauth2/v3/certs``: its signing key as a JWKS (the functions' ``SERVICE_JWKS_URL``), and
  ``GET /.well-known/openid-configuration``;
- ``POST /mint`` ``{"email", "audience"}``: an ID token for a declared service account, as IAM
  Credentials' ``generateIdToken`` gives one (the Cloud Tasks emulator's dispatch and the local
  scheduler ask here); an email that is not one of ``units.json``'s identities is refused;
- ``POST /demo-token`` ``{"role"}``: a CRM user token for the demo tenant, signed with the local
  stand-in for the CRM's identity provider (the console's "sign in as a demo role"; answered to
  the console's origin only). It exists in devstack alone: in the cloud users sign in with the
  CRM's identity provider;
- ``/crm/...``: the CRM's OIDC provider for the console's sign-in (``devstack/crm_oidc.py``);
- ``POST /push/{subscription}``: the Pub/Sub emulator pushes here; the message is relayed to the
  subscription's function or service (``topology.json``) with the push identity's token, as Pub/Sub's own
  ``oidc_token`` push config does, and the function's status is Pub/Sub's answer
  (``devstack/push_relay.py``: the retry backoff and the crashed-instance hold the emulator
  lacks).

The functions verify these tokens with the same code as in the cloud; only the JWKS URL and the
issuer name differ. Anyone on this machine could mint here: locally the trust boundary is the
machine (loopback only), in the cloud it is IAM's ``iam.serviceAccounts.getOpenIdToken``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.crm_oidc import crm_oidc_routes
from devstack.push_relay import push_endpoint
from devstack.tokens import GOOGLE_PREFIX, GoogleTokens, ensure_keypair, jwks, mint_token
from devstack.topology import load_topology, shared_pushes
from devstack.units import account_id, functions, load_units

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request


def known_emails(project: str) -> set[str]:
    names = list(load_units()["identities"]) + list(functions())
    return {f"{account_id(n)}@{project}.iam.gserviceaccount.com" for n in names}


DEMO_TENANT = "demo"
DEMO_ROLES = ("viewer", "rep", "manager", "admin")


def build_app(
    state_dir: Path,
    issuer: str,
    function_urls: dict[str, str],
    project: str,
    console_origin: str | None = None,
) -> Starlette:
    private_path, public_path = ensure_keypair(state_dir, GOOGLE_PREFIX)
    private_pem = private_path.read_text()
    key_set = jwks(public_path.read_bytes())
    emails = known_emails(project)
    push_email = f"{account_id('pubsub_push')}@{project}.iam.gserviceaccount.com"
    subscriptions = {
        s["name"]: s for s in load_topology()["subscriptions"] if s.get("push_function")
    } | shared_pushes(function_urls)
    client = httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=5.0))
    google = GoogleTokens(private_pem, issuer)

    async def certs(request: Request) -> Response:
        return JSONResponse(key_set, headers={"Cache-Control": "public, max-age=300"})

    async def discovery(request: Request) -> Response:
        return JSONResponse({"issuer": issuer, "jwks_uri": f"{issuer}/oauth2/v3/certs"})

    async def mint(request: Request) -> Response:
        try:
            body = await request.json()
            email, audience = str(body["email"]), str(body["audience"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "expected JSON {email, audience}"}, status_code=400)
        if email not in emails:
            return JSONResponse({"error": f"{email} is not a declared identity"}, status_code=403)
        return JSONResponse({"token": google.token(email, audience)})

    async def demo_token(request: Request) -> Response:
        cors = {"Access-Control-Allow-Origin": console_origin} if console_origin else {}
        if request.method == "OPTIONS":
            cors |= {
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Content-Type",
            }
            return Response(status_code=204, headers=cors)
        try:
            role = str((await request.json())["role"])
        except (ValueError, KeyError, TypeError):
            role = ""
        if role not in DEMO_ROLES:
            message = f"role must be one of {', '.join(DEMO_ROLES)}"
            return JSONResponse({"error": message}, status_code=400, headers=cors)
        crm_key = (state_dir / "jwt-private.pem").read_text()
        token = mint_token(crm_key, tenant_id=DEMO_TENANT, roles=[role], subject=f"demo-{role}")
        return JSONResponse({"token": token, "tenant_id": DEMO_TENANT, "role": role}, headers=cors)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/oauth2/v3/certs", certs),
            Route("/.well-known/openid-configuration", discovery),
            Route("/mint", mint, methods=["POST"]),
            Route("/demo-token", demo_token, methods=["POST", "OPTIONS"]),
            Route(
                "/push/{subscription}",
                push_endpoint(
                    subscriptions,
                    function_urls,
                    client,
                    lambda audience: google.token(push_email, audience),
                ),
                methods=["POST"],
            ),
            *crm_oidc_routes(state_dir, issuer, console_origin),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args()
    raw = os.environ.get("LOCAL_FUNCTION_URLS", "")
    urls = dict(item.split("=", 1) for item in raw.split(",") if item)
    issuer = f"http://127.0.0.1:{args.port}"
    app = build_app(
        args.state,
        issuer,
        urls,
        os.environ["GOOGLE_CLOUD_PROJECT"],
        urls.get("realtime"),  # the console is served by the real-time service
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
