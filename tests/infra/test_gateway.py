"""The local gateway: routes by the committed spec, refuses what API Gateway would never pass on
in the API's error shape, and serves the spec and its docs page (no function processes needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from devstack.gateway import build_app
from devstack.topology import OPENAPI

UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Any:
    names = {
        op["x-function"]
        for ops in json.loads(OPENAPI.read_text())["paths"].values()
        for op in ops.values()
    }
    monkeypatch.setenv("LOCAL_FUNCTION_URLS", ",".join(f"{n}={UNREACHABLE}" for n in names))
    with TestClient(build_app()) as test_client:
        yield test_client


def _error(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    return error


@pytest.mark.parametrize(
    "path", ["/api/v1/ai/workflows/%00", "/api/v1/ai/workflows/a%0Ab", "/api/v1/ai/crm/leads/%7F"]
)
def test_control_characters_in_a_path_are_refused(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400 and _error(response)["field"] == "path"


def test_a_literal_path_wins_over_a_parameter(client: Any) -> None:
    # /knowledge/search is the search, not the document "search": DELETE is not allowed there.
    response = client.delete("/api/v1/ai/knowledge/search")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    options = client.options("/api/v1/ai/workflows")
    assert options.status_code == 405 and options.headers["allow"] == "GET, POST"
    # A browser's CORS preflight goes on to the function (unreachable here: 503), which
    # answers it for allowed origins, as API Gateway passes the declared OPTIONS operations.
    preflight = client.options(
        "/api/v1/ai/workflows", headers={"Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 503


def test_bodies_over_the_operations_limit_are_refused_before_the_function(client: Any) -> None:
    response = client.post("/api/v1/ai/workflows", content=b"x" * (64 * 1024 + 1))
    assert response.status_code == 413 and _error(response)["code"] == "payload_too_large"


def test_an_unreachable_function_is_a_retryable_503(client: Any) -> None:
    response = client.get("/api/v1/ai/usage")
    assert response.status_code == 503 and response.headers["retry-after"]
    assert _error(response)["code"] == "unavailable"


def test_unknown_paths_get_the_error_shape(client: Any) -> None:
    assert _error(client.get("/api/v1/ai/nothing"))["code"] == "not_found"


def test_the_spec_and_docs_are_served_from_here(client: Any) -> None:
    assert client.get("/openapi.json").json() == json.loads(OPENAPI.read_text())
    page = client.get("/docs").text
    assert "swagger-ui-bundle.js" in page and "https://" not in page
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    assert "/openapi.json" in client.get("/docs/init.js").text
