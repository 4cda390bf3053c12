from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import flask
import pytest

from shared.auth import Permission
from shared.auth.tokens import TokenVerifier
from shared.errors import TransientError
from shared.store import MemoryStore
from shared.web import RequestContext, Route, dispatch

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import TokenFactory


def _ok(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    return {"tenant": ctx.tenant_id, "id": ctx.params["item_id"]}, 200


def _flaky(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    raise TransientError("busy")


def _bug(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    raise ZeroDivisionError


ROUTES = (
    Route("GET", "/api/v1/ai/items/{item_id}", Permission.CRM_READ, _ok),
    Route("POST", "/api/v1/ai/items/{item_id}", Permission.WORKFLOWS_RUN, _ok),
    Route("GET", "/api/v1/ai/flaky", Permission.CRM_READ, _flaky),
    Route("GET", "/api/v1/ai/bug", Permission.CRM_READ, _bug),
)


@pytest.fixture
def call(keys: tuple[Path, Path]) -> Any:
    verifier = TokenVerifier(
        issuer="crm-dev", audience="crm-ai", public_key_pem=keys[1].read_text()
    )
    app = flask.Flask("t")

    def _call(
        method: str, path: str, token: str | None = None, **headers: str
    ) -> tuple[dict[str, Any], int, dict[str, str]]:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        with app.test_request_context(path, method=method, headers=headers):
            body, status, out = dispatch(
                flask.request, ROUTES, verifier=verifier, store=MemoryStore(), project_id="p"
            )
        return json.loads(body), status, out

    return _call


def test_authorised_request(call: Any, make_token: TokenFactory) -> None:
    body, status, headers = call("GET", "/api/v1/ai/items/i1", make_token("acme", ["viewer"]))
    assert (status, body) == (200, {"tenant": "acme", "id": "i1"})
    assert headers["X-Request-ID"]


def test_status_mapping(call: Any, make_token: TokenFactory) -> None:
    viewer = make_token("acme", ["viewer"])
    assert call("GET", "/api/v1/ai/items/i1")[1] == 401
    body, status, _ = call("POST", "/api/v1/ai/items/i1", viewer)
    assert status == 403 and "workflows:run" in body["error"]["message"]
    assert call("GET", "/api/v1/ai/items/i1", viewer, **{"X-Tenant-ID": "globex"})[1] == 403
    assert call("GET", "/api/v1/ai/nothing", viewer)[1] == 404
    assert call("DELETE", "/api/v1/ai/items/i1", viewer)[1] == 405
    body, status, headers = call("GET", "/api/v1/ai/flaky", viewer)
    assert status == 503 and headers["Retry-After"]
    body, status, _ = call("GET", "/api/v1/ai/bug", viewer)
    assert status == 500 and body["error"]["code"] == "internal" and body["request_id"]
