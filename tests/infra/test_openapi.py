"""The API contract: the committed OpenAPI and Swagger documents are what the code generates, and
they describe every route with its request, response and error schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.openapi import SWAGGER, outputs
from devstack.procs import REPO
from devstack.topology import OPENAPI, function_routes, load_routes
from devstack.units import functions

SPEC = json.loads(OPENAPI.read_text())
OPERATIONS = [
    (path, method, op) for path, ops in SPEC["paths"].items() for method, op in ops.items()
]


def test_the_committed_documents_are_up_to_date() -> None:
    for path, text in outputs().items():
        assert path.read_text() == text, f"{path.name} is stale: run scripts/openapi"


def test_every_route_is_an_operation() -> None:
    table = {(r["method"].lower(), r["path"]) for r in load_routes()}
    assert {(m, p) for p, m, _ in OPERATIONS} == table
    assert len({op["operationId"] for _, _, op in OPERATIONS}) == len(OPERATIONS)


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=lambda v: str(v)[:40])
def test_each_operation_declares_its_schemas_and_errors(
    path: str, method: str, op: dict[str, Any]
) -> None:
    route = function_routes()[(method.upper(), path)][1]
    success = [c for c in op["responses"] if c.startswith("2")]
    assert len(success) == 1
    content = op["responses"][success[0]]["content"]
    if route.stream:
        assert list(content) == ["text/event-stream"]
    else:
        assert list(content) == ["application/json"]
        assert content["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")
    for code in ("400", "401", "403", "429", "503"):
        assert op["responses"][code]["$ref"] == f"#/components/responses/E{code}"
    if "{" in path:
        assert "404" in op["responses"]
        assert {p["name"] for p in op["parameters"] if p["in"] == "path"} == set(
            route.path_model.model_fields
        )
    if route.body is not None:
        assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert "413" in op["responses"] and op["x-max-body-bytes"] == route.max_body
    else:
        assert "requestBody" not in op
    assert op["x-permission"] == route.permission.value and op["x-roles"]


def test_errors_have_one_shape_and_retryable_ones_say_when() -> None:
    responses = SPEC["components"]["responses"]
    for code in ("400", "401", "403", "404", "409", "413", "429", "503"):
        schema = responses[f"E{code}"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert "Retry-After" in responses["E429"]["headers"]
    assert "Retry-After" in responses["E503"]["headers"]


def test_inputs_that_had_no_bound_have_one_now() -> None:
    schemas = SPEC["components"]["schemas"]
    assert schemas["OutreachInput"]["additionalProperties"] is False
    assert schemas["TriageInput"]["properties"]["message"]["maxLength"] == 8000
    assert schemas["EditedDraft"]["properties"]["body"]["anyOf"][0]["maxLength"] == 10_000
    assert schemas["ScoreLead"]["properties"]["fields"]["anyOf"][0]["maxProperties"] == 200
    report = SPEC["paths"]["/api/v1/ai/prompts/{template_id}/report"]["get"]["parameters"]
    since = next(p for p in report if p["name"] == "since")
    assert since["schema"]["format"] == "date" and "366 days" in since["description"]
    version = SPEC["components"]["schemas"]["OutcomeBody"]["properties"]["version"]["anyOf"][0]
    assert (version["minimum"], version["maximum"]) == (1, 9999)  # JSON Schema's own names


def test_the_chat_stream_lists_its_events() -> None:
    chat = SPEC["paths"]["/api/v1/ai/insights/chat"]["post"]
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    assert chat["x-sse-events"] == ["session", "delta", "citations", "usage", "done", "error"]


def test_swagger2_has_the_same_operations_for_api_gateway() -> None:
    swagger = json.loads(SWAGGER.read_text())
    assert swagger["swagger"] == "2.0"
    declared = {(p, m) for p, ops in swagger["paths"].items() for m in ops}
    # The API's operations, plus an unauthenticated CORS preflight on every path.
    assert declared == {(p, m) for p, m, _ in OPERATIONS} | {(p, "options") for p, *_ in OPERATIONS}
    for path, ops in swagger["paths"].items():
        assert ops["options"]["security"] == [], path
        assert all(op["security"] == [{"crm_jwt": []}] for m, op in ops.items() if m != "options")
    platform = (REPO / "terraform/modules/platform/main.tf").read_text()
    # Every backend has an address: the gateway's backends are the units.json functions whose
    # trigger is http.
    assert 'name => local.function_urls[name] if unit.trigger == "http"' in platform
    for ops in swagger["paths"].values():
        for op in ops.values():
            assert functions()[op["x-function"]]["trigger"] == "http", op["x-function"]
            assert all("schema" not in p for p in op["parameters"])  # Swagger 2.0 form
