from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import flask
import pytest
from pydantic import Field, StringConstraints

from shared.core.auth import Permission
from shared.core.auth.tokens import TokenVerifier
from shared.core.errors import TransientError
from shared.core.store import MemoryStore
from shared.core.web import RequestContext, Route, dispatch
from shared.core.web.contract import Fields, Id, JsonObject, Request, ResponseBody

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import TokenFactory


class Found(ResponseBody):
    id: str
    tenant: str


class Echoed(ResponseBody):
    id: str
    name: str


def _ok(ctx: RequestContext[None]) -> tuple[Found, int]:
    return Found(tenant=ctx.tenant_id, id=ctx.params["item_id"]), 200


def _flaky(ctx: RequestContext[None]) -> tuple[Found, int]:
    raise TransientError("busy")


def _bug(ctx: RequestContext[None]) -> tuple[Found, int]:
    raise ZeroDivisionError


class Item(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    count: int = Field(1, ge=1, le=10)
    fields: Fields = Field(default_factory=dict)
    extra: JsonObject = Field(default_factory=dict)
    tags: list[Id] = Field(default_factory=list, max_length=3)


def _echo(ctx: RequestContext[None]) -> tuple[Echoed, int]:
    item = ctx.body(Item)
    return Echoed.model_validate({"id": ctx.params["item_id"], **item.model_dump()}), 201


ROUTES = (
    Route("GET", "/api/v1/ai/items/{item_id}", Permission.CRM_READ, _ok, response=Found),
    Route("POST", "/api/v1/ai/items/{item_id}", Permission.WORKFLOWS_RUN, _ok),
    Route(
        "PUT", "/api/v1/ai/items/{item_id}", Permission.CRM_READ, _echo, body=Item, max_body=30_000
    ),
    Route("GET", "/api/v1/ai/flaky", Permission.CRM_READ, _flaky),
    Route("GET", "/api/v1/ai/bug", Permission.CRM_READ, _bug),
    # Declares one model, answers another: a route table bug.
    Route("GET", "/api/v1/ai/mismatch/{item_id}", Permission.CRM_READ, _ok, response=Echoed),
)


@pytest.fixture
def call(keys: tuple[Path, Path]) -> Any:
    verifier = TokenVerifier(
        issuer="crm-dev", audience="crm-ai", public_key_pem=keys[1].read_text()
    )
    app = flask.Flask("t")

    def _call(
        method: str, path: str, token: str | None = None, data: Any = None, **headers: str
    ) -> tuple[dict[str, Any], int, dict[str, str]]:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if isinstance(data, (dict, list)):
            data = json.dumps(data)
        with app.test_request_context(path, method=method, headers=headers, data=data):
            body, status, out = dispatch(
                flask.request, ROUTES, verifier=verifier, store=MemoryStore()
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


def test_an_answer_that_is_not_the_declared_model_is_a_bug(
    call: Any, make_token: TokenFactory
) -> None:
    body, status, _ = call("GET", "/api/v1/ai/mismatch/i1", make_token("acme", ["viewer"]))
    assert status == 500 and body["error"]["code"] == "internal"
    assert call("GET", "/api/v1/ai/items/i1", make_token("acme", ["viewer"]))[0] == {
        "tenant": "acme",
        "id": "i1",
    }


def test_a_valid_body_reaches_the_handler_typed(call: Any, make_token: TokenFactory) -> None:
    sent = {"name": "n", "count": 2, "fields": {"employees": 40}, "extra": {"a": {"b": [1]}}}
    body, status, _ = call("PUT", "/api/v1/ai/items/i1", make_token(roles=["viewer"]), sent)
    assert status == 201 and body == {"id": "i1", "tags": [], **sent}


@pytest.mark.parametrize(
    ("sent", "field", "reason"),
    [
        ({}, "name", "Field required"),
        ({"name": ""}, "name", "at least 1 character"),
        ({"name": "n", "count": "2"}, "count", "valid integer"),  # strict: no coercion
        ({"name": "n", "count": 11}, "count", "less than or equal to 10"),
        ({"name": "n", "colour": "red"}, "colour", "Extra inputs"),
        ({"name": "n", "fields": {"employees": [40]}}, "fields.employees", "allowed types"),
        # Nested past the free-form limit: the top value no type of the union takes.
        ({"name": "n", "extra": {"a": {"b": {"c": {"d": 1}}}}}, "extra.a", "allowed types"),
        ({"name": "n", "tags": ["ok", "../up"]}, "tags[1]", "pattern"),
        ({"name": "n", "tags": ["a", "b", "c", "d"]}, "tags", "at most 3"),
        ([1, 2], "body", "should be an object"),
    ],
)
def test_invalid_bodies_name_the_field(
    call: Any, make_token: TokenFactory, sent: Any, field: str, reason: str
) -> None:
    body, status, _ = call("PUT", "/api/v1/ai/items/i1", make_token(roles=["viewer"]), sent)
    assert status == 400, body
    assert body["error"]["field"] == field and reason in body["error"]["message"], body


def test_deep_broken_and_oversized_bodies_are_refused(call: Any, make_token: TokenFactory) -> None:
    token = make_token(roles=["viewer"])
    for raw in ("[" * 20_000, '{"name": "n"', "\u0000", "nan"):
        body, status, _ = call("PUT", "/api/v1/ai/items/i1", token, raw)
        assert status == 400 and body["error"]["field"] == "body", (raw[:10], body)
    big = json.dumps({"name": "n", "extra": {"x": "y" * 40_000}})
    body, status, _ = call("PUT", "/api/v1/ai/items/i1", token, big)
    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_bad_path_segments_are_refused(call: Any, make_token: TokenFactory) -> None:
    token = make_token(roles=["viewer"])
    for segment in ("%00", "..", "a%0A", "__x__", "x" * 300):
        body, status, _ = call("GET", f"/api/v1/ai/items/{segment}", token)
        assert status == 400 and body["error"]["field"] == "item_id", (segment, body)


def test_an_unauthenticated_caller_learns_nothing_about_the_schema(call: Any) -> None:
    body, status, _ = call("PUT", "/api/v1/ai/items/i1", None, {"colour": 1})
    assert (status == 401 and "field" not in body["error"]) or body["error"]["field"] != "colour"
