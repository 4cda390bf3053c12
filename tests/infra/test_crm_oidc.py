"""The local stand-in for the CRM's OIDC provider (devstack/crm_oidc.py) holds the console's
sign-in to the rules of authorization code with PKCE: a registered client and redirect, an S256
challenge, a code used once by the client it was issued to, with the verifier that hashes to it."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from devstack.crm_oidc import CLIENT_ID, crm_oidc_routes
from devstack.tokens import ensure_keypair

if TYPE_CHECKING:
    from pathlib import Path

ORIGIN = "http://127.0.0.1:8096"
REDIRECT = ORIGIN + "/console/"
VERIFIER = "a-verifier-of-enough-length-0123456789-abcdefghijklmnop"


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    app = Starlette(routes=crm_oidc_routes(tmp_path, "http://idp.test", ORIGIN))
    return TestClient(app, base_url="http://idp.test", follow_redirects=False)


def _params(**over: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "s-123",
        "code_challenge": _challenge(VERIFIER),
        "code_challenge_method": "S256",
    } | over


def _code(client: TestClient, role: str = "manager") -> str:
    form = {k: v for k, v in _params().items() if k != "response_type"} | {"role": role}
    answer = client.post("/crm/authorize", data=form)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["s-123"]
    return query["code"][0]


def _exchange(client: TestClient, code: str, **over: str) -> tuple[int, dict[str, str]]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": CLIENT_ID,
        "code_verifier": VERIFIER,
    } | over
    answer = client.post("/crm/token", data=form)
    return answer.status_code, answer.json()


def test_metadata_names_the_endpoints_and_pkce(client: TestClient) -> None:
    meta = client.get("/crm/.well-known/openid-configuration").json()
    assert meta["issuer"] == "http://idp.test/crm"
    assert meta["authorization_endpoint"] == "http://idp.test/crm/authorize"
    assert meta["token_endpoint"] == "http://idp.test/crm/token"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert client.get("/crm/jwks").json()["keys"]


def test_a_code_exchanged_with_its_verifier_gives_a_crm_user_token(
    client: TestClient, tmp_path: Path
) -> None:
    page = client.get("/crm/authorize", params=_params())
    assert page.status_code == 200 and 'value="manager"' in page.text
    status, body = _exchange(client, _code(client, "manager"))
    assert status == 200, body
    public = ensure_keypair(tmp_path)[1].read_text()
    claims = jwt.decode(body["access_token"], public, algorithms=["RS256"], audience="crm-ai")
    assert (claims["tenant_id"], claims["roles"]) == ("demo", ["manager"])


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"client_id": "someone-else"}, "unknown client_id"),
        ({"redirect_uri": "https://evil.test/console/"}, "redirect_uri"),
        ({"redirect_uri": ORIGIN + "/elsewhere"}, "redirect_uri"),
        ({"code_challenge": ""}, "PKCE"),
        ({"code_challenge_method": "plain"}, "PKCE"),
    ],
)
def test_a_bad_request_is_refused_on_the_page_never_redirected(
    client: TestClient, over: dict[str, str], reason: str
) -> None:
    answer = client.get("/crm/authorize", params=_params(**over))
    assert answer.status_code == 400 and reason in answer.text
    assert "location" not in answer.headers


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"code_verifier": "a-different-verifier-0123456789-abcdefghijklmnopqrst"}, "verifier"),
        ({"code_verifier": ""}, "verifier"),
        ({"client_id": "someone-else"}, "client_id"),
        ({"redirect_uri": ORIGIN + "/console/other"}, "redirect_uri"),
        ({"grant_type": "password"}, "grant_type"),
    ],
)
def test_a_code_with_the_wrong_proof_is_refused_and_burnt(
    client: TestClient, over: dict[str, str], reason: str
) -> None:
    code = _code(client)
    status, body = _exchange(client, code, **over)
    assert status == 400 and reason in body["error_description"], body
    if "grant_type" not in over:
        # A failed try uses the code up: the right verifier cannot redeem it afterwards.
        status, body = _exchange(client, code)
        assert status == 400 and body["error"] == "invalid_grant"


def test_a_code_is_used_once(client: TestClient) -> None:
    code = _code(client)
    assert _exchange(client, code)[0] == 200
    status, body = _exchange(client, code)
    assert status == 400 and "used" in body["error_description"]


def test_declining_returns_an_error_to_the_client(client: TestClient) -> None:
    form = {k: v for k, v in _params().items() if k != "response_type"} | {"role": "root"}
    answer = client.post("/crm/authorize", data=form)
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query == {"error": ["access_denied"], "state": ["s-123"]}
