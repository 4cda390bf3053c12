"""Every route of every HTTP function declares the model its handler answers: the handler's
return annotation names the route's response model, so mypy checks what the handler builds and
the contract (api/openapi.json) shows what it answers."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import pytest

from devstack.topology import function_routes

if TYPE_CHECKING:
    from shared.core.web import Route

ROUTES = sorted(function_routes().items())


def test_the_route_tables_are_found() -> None:
    assert len(ROUTES) >= 40


@pytest.mark.parametrize(("key", "served"), ROUTES, ids=[f"{m} {p}" for (m, p), _ in ROUTES])
def test_a_handler_answers_its_declared_model(
    key: tuple[str, str], served: tuple[str, Route]
) -> None:
    _, route = served
    returns = inspect.signature(route.handler).return_annotation
    if route.stream:
        assert route.response is None and returns == "Iterator[str]"
        return
    assert route.response is not None, f"{key} declares no response model"
    assert returns == f"tuple[{route.response.__name__}, int]"
