"""The CRM's identity provider, played locally, so that the console's OIDC sign-in (authorization
code with PKCE, a public client) runs end to end here as it does in the cloud (issue 16).

In the cloud the CRM's provider authenticates the person and issues the CRM user token (a JWT
with ``tenant_id`` and ``roles``) that the AI API already verifies. Here the "person" picks one of
the demo tenant's roles on a page, and the token is signed with the local CRM key
(``jwt-private.pem``), as ``./scripts/token`` signs. Mounted under ``/crm`` by
``devstack/identity.py``:

- ``GET /crm/.well-known/openid-configuration``: the provider's metadata (``/crm/jwks``: its key);
- ``GET /crm/authorize``: checks the client, the redirect URI (the console's own pages only) and
  the S256 code challenge, and shows the sign-in page; ``POST /crm/authorize`` (the page's form)
  redirects back with a one-time code (60 s) and the client's ``state``;
- ``POST /crm/token``: exchanges the code for the token once, if the ``code_verifier`` hashes to
  the challenge and the client and redirect URI are those the code was issued for.

It exists in devstack alone; nothing in the deployed units refers to it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode

from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from devstack.tokens import KEY_ID, ensure_keypair, jwks, mint_token

if TYPE_CHECKING:
    from pathlib import Path

    from starlette.requests import Request

CLIENT_ID = "ai-console"
CODE_TTL_SECONDS = 60
TENANT = "demo"
ROLES = ("viewer", "rep", "manager", "admin")
_AUTH_PARAMS = ("client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method")


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    role: str
    expires: float


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def crm_oidc_routes(state_dir: Path, base_url: str, console_origin: str | None) -> list[Route]:
    """The provider's routes; ``base_url`` is where ``/crm`` is served (the issuer)."""
    provider = _Provider(state_dir, base_url.rstrip("/") + "/crm", console_origin)
    return [
        Route("/crm/.well-known/openid-configuration", provider.metadata),
        Route("/crm/jwks", provider.keys),
        Route("/crm/authorize", provider.authorize, methods=["GET", "POST"]),
        Route("/crm/token", provider.token, methods=["POST", "OPTIONS"]),
    ]


class _Provider:
    """Authorization codes with PKCE for the console's one client; codes live in memory."""

    def __init__(self, state_dir: Path, issuer: str, console_origin: str | None) -> None:
        self.state_dir = state_dir
        self.issuer = issuer
        self.console_origin = console_origin
        self.grants: dict[str, _Grant] = {}
        self.cors = {"Access-Control-Allow-Origin": console_origin} if console_origin else {}

    def auth_error(self, params: dict[str, str]) -> str | None:
        if params.get("client_id") != CLIENT_ID:
            return "unknown client_id"
        origin = self.console_origin
        if origin is None or not params.get("redirect_uri", "").startswith(origin + "/console/"):
            return "redirect_uri is not registered for this client"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "a code_challenge with code_challenge_method=S256 is required (PKCE)"
        return None

    async def metadata(self, request: Request) -> Response:
        issuer = self.issuer
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
                "scopes_supported": ["openid"],
            },
            headers=self.cors,
        )

    async def authorize(self, request: Request) -> Response:
        form: dict[str, str] = {}
        if request.method == "GET":
            params = {k: request.query_params.get(k, "") for k in _AUTH_PARAMS}
            if request.query_params.get("response_type") != "code":
                return HTMLResponse("response_type must be code", status_code=400)
        else:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            params = {k: form.get(k, "") for k in _AUTH_PARAMS}
        problem = self.auth_error(params)
        if problem:
            # Never redirect to an unchecked URI: the error is shown here.
            return HTMLResponse(html.escape(problem), status_code=400)
        if request.method == "GET":
            return HTMLResponse(_page(params))
        role = form.get("role", "")
        if role not in ROLES:
            answer = {"error": "access_denied", "state": params["state"]}
        else:
            code = secrets.token_urlsafe(24)
            self.grants[code] = _Grant(
                params["client_id"],
                params["redirect_uri"],
                params["code_challenge"],
                role,
                time.monotonic() + CODE_TTL_SECONDS,
            )
            answer = {"code": code, "state": params["state"]}
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(answer)}", status_code=303)

    async def token(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            allow = {"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "*"}
            return Response(status_code=204, headers=self.cors | allow)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "authorization_code":
            return self._refuse("unsupported_grant_type", "grant_type must be authorization_code")
        grant = self.grants.pop(form.get("code", ""), None)  # one use, whatever happens next
        problem = _grant_problem(form, grant)
        if grant is None or problem:
            return self._refuse("invalid_grant", problem or "the code is unknown")
        key = ensure_keypair(self.state_dir)[0].read_text()
        access = mint_token(key, tenant_id=TENANT, roles=[grant.role], subject=f"crm-{grant.role}")
        body = {"access_token": access, "token_type": "Bearer", "expires_in": 3600}
        return JSONResponse(body, headers=self.cors | {"Cache-Control": "no-store"})

    def _refuse(self, error: str, description: str) -> Response:
        body = {"error": error, "error_description": description}
        return JSONResponse(body, status_code=400, headers=self.cors)

    async def keys(self, request: Request) -> Response:
        public = ensure_keypair(self.state_dir)[1].read_bytes()
        return JSONResponse(jwks(public, KEY_ID), headers=self.cors)


def _grant_problem(form: dict[str, str], grant: _Grant | None) -> str | None:
    """Why the token request may not redeem ``grant`` (None: it may)."""
    if grant is None or grant.expires < time.monotonic():
        return "the code is unknown, used or expired"
    if (form.get("client_id"), form.get("redirect_uri")) != (grant.client_id, grant.redirect_uri):
        return "client_id or redirect_uri differ from the request's"
    if _s256(form.get("code_verifier", "")) != grant.challenge:
        return "code_verifier does not match the code_challenge"
    return None


def _page(params: dict[str, str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v, quote=True)}">'
        for k, v in params.items()
    )
    buttons = "".join(
        f'<button name="role" value="{r}">{r} of the {TENANT} tenant</button> ' for r in ROLES
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo CRM sign-in'
        "</title></head><body><main><h1>Demo CRM: sign in</h1><p>The local stand-in for the "
        "CRM's identity provider. Choose who you are:</p>"
        f'<form method="post">{hidden}{buttons}</form></main></body></html>'
    )
