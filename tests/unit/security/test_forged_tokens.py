"""Forged and malformed CRM tokens against the HTTP edge (issue 15, the security tier's first
part): every one is refused with 401 on every route, and none reaches a handler."""

from __future__ import annotations

import base64
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

import flask
import jwt
import pytest

from devstack.tokens import ensure_keypair, mint_token
from devstack.topology import function_routes, load_routes
from shared.core.auth.tokens import TokenVerifier
from shared.core.store import MemoryStore
from shared.core.web.http import dispatch

if TYPE_CHECKING:
    from pathlib import Path


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": "crm-dev",
        "aud": "crm-ai",
        "sub": "mallory",
        "exp": int(time.time()) + 600,
        "tenant_id": "acme",
        "roles": ["admin"],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def forged(keys: tuple[Path, Path], other_private: str) -> dict[str, str]:
    private, public = keys[0].read_text(), keys[1].read_text()

    def signed(**changes: Any) -> str:
        return jwt.encode(_claims(**changes), private, algorithm="RS256")

    hs256 = (
        _b64({"alg": "HS256", "typ": "JWT"})
        + "."
        + _b64(_claims())
        + "."
        + base64.urlsafe_b64encode(hmac.new(public.encode(), b"x", "sha256").digest()).decode()
    )
    return {
        "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims()) + ".",
        "HS256 keyed with the public key": hs256,
        "expired": signed(exp=int(time.time()) - 3600),
        "wrong audience": signed(aud="another-app"),
        "wrong issuer": signed(iss="https://evil.example"),
        "no tenant": signed(tenant_id=None),
        "roles as a string": signed(roles="admin"),
        "unknown role": signed(roles=["root"]),
        "no subject": signed(sub=None),
        "another key": jwt.encode(_claims(), other_private, algorithm="RS256"),
        "tampered payload": signed().rsplit(".", 2)[0] + "." + _b64(_claims(tenant_id="globex"))
        + "." + signed().rsplit(".", 1)[1],
        "not a JWT": "not-a-jwt",
    }  # fmt: skip


def test_forged_tokens_are_refused_on_every_route(keys: tuple[Path, Path], tmp_path: Path) -> None:
    verifier = TokenVerifier(
        issuer="crm-dev", audience="crm-ai", public_key_pem=keys[1].read_text()
    )
    other_private = ensure_keypair(tmp_path)[0].read_text()
    tokens = forged(keys, other_private)
    app = flask.Flask("forged")
    tried = refused = 0
    for (method, pattern), (_, route) in function_routes().items():
        path = pattern.replace("{collection}", "leads").replace("{template_id}", "outreach_draft")
        path = path.replace("{", "").replace("}", "")
        routes = (route,)
        for name, token in tokens.items():
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            with app.test_request_context(path, method=method, headers=headers, data="{}"):
                body, status, _ = dispatch(
                    flask.request, routes, verifier=verifier, store=MemoryStore()
                )
            tried += 1
            assert status == 401, (name, method, path, body)
            refused += 1
    operations = len(load_routes())
    print(
        f"forged tokens: {refused} of {tried} refused ({len(tokens)} kinds x {operations} operations)"
    )
    assert tried == refused == len(tokens) * operations
    # The genuine token of the same claims passes (the test can fail the other way too).
    genuine = mint_token(keys[0].read_text(), tenant_id="acme", roles=["admin"])
    assert verifier.verify(f"Bearer {genuine}").tenant_id == "acme"


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer x.y.z"])
def test_malformed_authorization_headers_are_refused(keys: tuple[Path, Path], header: str) -> None:
    from shared.core.errors import Unauthenticated

    verifier = TokenVerifier(
        issuer="crm-dev", audience="crm-ai", public_key_pem=keys[1].read_text()
    )
    with pytest.raises(Unauthenticated):
        verifier.verify(header)
