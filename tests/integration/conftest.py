"""The whole local stack as ``scripts/up`` runs it: emulators, function processes, gateway."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import pytest

from devstack.emulators import reset_firestore
from tests.conftest import STACK_PROJECT

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["STACK_PROJECT"]


@pytest.fixture(autouse=True)
def _wipe(request: pytest.FixtureRequest) -> None:
    if "stack" in request.fixturenames:
        stack = request.getfixturevalue("stack")
        reset_firestore(stack.procs["firestore"].address, STACK_PROJECT)


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect after each test, so a connection a test leaves open warns (an unclosed socket,
    an error under filterwarnings) in that test, not in whichever test runs when the garbage
    collector happens to pass."""
    yield
    gc.collect()
