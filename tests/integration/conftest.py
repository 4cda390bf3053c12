"""The whole local stack as ``scripts/up`` runs it: emulators, function processes, gateway."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from devstack.emulators import reset_firestore
from devstack.stack import Stack
from shared import runtime

if TYPE_CHECKING:
    from pathlib import Path

STACK_PROJECT = "it-project"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Iterator[Stack]:
    saved = dict(os.environ)
    state = tmp_path_factory.mktemp("stack")
    # The functions verify tokens against the session's key pair.
    (state / "jwt-private.pem").write_bytes(keys[0].read_bytes())
    (state / "jwt-public.pem").write_bytes(keys[1].read_bytes())
    # A short workflow lease, so a retried task takes over from a killed runner within seconds.
    running = Stack(
        project=STACK_PROJECT, state_dir=state, extra_env={"WORKFLOW_LEASE_SECONDS": "4"}
    ).start()
    runtime.reset()
    try:
        yield running
    finally:
        running.stop()
        os.environ.clear()
        os.environ.update(saved)
        runtime.reset()


@pytest.fixture(autouse=True)
def _wipe(request: pytest.FixtureRequest) -> None:
    if "stack" in request.fixturenames:
        stack = request.getfixturevalue("stack")
        reset_firestore(stack.procs["firestore"].address, STACK_PROJECT)
