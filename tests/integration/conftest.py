"""The whole local stack as ``scripts/up`` runs it: emulators, function processes, gateway."""

from __future__ import annotations

import pytest

from devstack.emulators import reset_firestore
from tests.conftest import STACK_PROJECT

__all__ = ["STACK_PROJECT"]


@pytest.fixture(autouse=True)
def _wipe(request: pytest.FixtureRequest) -> None:
    if "stack" in request.fixturenames:
        stack = request.getfixturevalue("stack")
        reset_firestore(stack.procs["firestore"].address, STACK_PROJECT)
