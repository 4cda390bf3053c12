"""Cross-origin access for the console and the CRM's web app (issue 16): preflights answered
before authentication for allowed origins only; answers readable by those origins only; the
API's own checks unchanged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import flask
import pytest

from shared.core.auth.tokens import TokenVerifier
from shared.core.config import load_settings
from shared.core.errors import ConfigError
from shared.core.store import MemoryStore
from shared.core.web import dispatch
from shared.core.web.http import with_cors
from tests.unit.web.test_http import ROUTES

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import TokenFactory

CONSOLE = "http://127.0.0.1:8096"


@pytest.fixture
def call(keys: tuple[Path, Path]) -> Any:
    verifier = TokenVerifier(
        issuer="crm-dev", audience="crm-ai", public_key_pem=keys[1].read_text()
    )
    app = flask.Flask("t")

    def _call(method: str, path: str, **headers: str) -> tuple[str, int, dict[str, str]]:
        with app.test_request_context(path, method=method, headers=headers):
            answer = with_cors(
                flask.request,
                ROUTES,
                frozenset({CONSOLE}),
                lambda: dispatch(flask.request, ROUTES, verifier=verifier, store=MemoryStore()),
            )
            return answer

    return _call


def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(call: Any) -> None:
    body, status, headers = call(
        "OPTIONS",
        "/api/v1/ai/items/i1",
        Origin=CONSOLE,
        **{"Access-Control-Request-Method": "PUT"},
    )
    assert status == 204 and body == ""
    assert headers["Access-Control-Allow-Origin"] == CONSOLE
    assert headers["Access-Control-Allow-Methods"] == "GET, POST, PUT"
    assert "Authorization" in headers["Access-Control-Allow-Headers"]


def test_another_origin_gets_no_cors_headers(call: Any, make_token: TokenFactory) -> None:
    _, status, headers = call(
        "OPTIONS",
        "/api/v1/ai/items/i1",
        Origin="https://evil.example",
        **{"Access-Control-Request-Method": "GET"},
    )
    assert status == 204 and "Access-Control-Allow-Origin" not in headers
    _, status, headers = call(
        "GET",
        "/api/v1/ai/items/i1",
        Origin="https://evil.example",
        Authorization="Bearer " + make_token("acme", ["viewer"]),
    )
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_answers_to_an_allowed_origin_are_readable_and_still_authenticated(
    call: Any, make_token: TokenFactory
) -> None:
    _, status, headers = call("GET", "/api/v1/ai/items/i1", Origin=CONSOLE)
    assert status == 401 and headers["Access-Control-Allow-Origin"] == CONSOLE
    token = make_token("acme", ["viewer"])
    _, status, headers = call(
        "GET", "/api/v1/ai/items/i1", Origin=CONSOLE, Authorization=f"Bearer {token}"
    )
    assert status == 200 and "X-Request-ID" in headers["Access-Control-Expose-Headers"]
    _, status, _ = call(
        "OPTIONS", "/api/v1/ai/nowhere", Origin=CONSOLE, **{"Access-Control-Request-Method": "GET"}
    )
    assert status == 404


def test_origins_must_be_scheme_and_host() -> None:
    base = {"GOOGLE_CLOUD_PROJECT": "p", "APP_ENV": "local", "AUTH_PUBLIC_KEY_FILE": "/k"}
    settings = load_settings({**base, "CORS_ORIGINS": f"{CONSOLE}, https://app.example.com"})
    assert settings.cors_origins == (CONSOLE, "https://app.example.com")
    for bad in ("app.example.com", "https://app.example.com/", "ftp://x"):
        with pytest.raises(ConfigError, match="CORS_ORIGINS"):
            load_settings({**base, "CORS_ORIGINS": bad})
