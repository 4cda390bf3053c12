"""Fixtures shared by every tier: dev keys and tokens, and the emulators (started on demand)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.emulators import reset_firestore
from devstack.stack import Stack
from devstack.tokens import ensure_keypair, mint_token
from shared.edge import services

PROJECT = "test-project"
TokenFactory = Callable[..., str]


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def make_token(keys: tuple[Path, Path]) -> TokenFactory:
    private_pem = keys[0].read_text()

    def _make(tenant_id: str | None = "acme", roles: list[str] | None = None, **kw: Any) -> str:
        return mint_token(private_pem, tenant_id=tenant_id, roles=roles or ["viewer"], **kw)

    return _make


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Iterator[Stack]:
    """Firestore, Pub/Sub and Cloud Tasks emulators on free ports, with the topology applied."""
    stack = Stack(
        project=PROJECT,
        state_dir=tmp_path_factory.mktemp("emulators"),
        with_functions=False,
        with_gateway=False,
    )
    saved = dict(os.environ)
    stack.start()
    os.environ["AUTH_PUBLIC_KEY_FILE"] = str(keys[1])
    services.reset()
    try:
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        services.reset()


@pytest.fixture
def clean_firestore(emulators: Stack) -> Stack:
    reset_firestore(emulators.procs["firestore"].address, PROJECT)
    return emulators


@pytest.fixture(scope="session")
def simulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The LLM provider simulator as its own process, as scripts/up runs it."""
    from devstack.procs import simulator

    with simulator(tmp_path_factory.mktemp("simulator")) as proc:
        yield proc.url


@pytest.fixture
def sim(simulator_url: str) -> Iterator[Any]:
    """Admin access to the simulator, with faults and config cleared before and after each test."""
    import httpx

    client = httpx.Client(base_url=simulator_url, timeout=10)
    client.delete("/_sim/faults")
    try:
        yield client
    finally:
        client.delete("/_sim/faults")
        client.close()


STACK_PROJECT = "it-project"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Iterator[Stack]:
    saved = dict(os.environ)
    state = tmp_path_factory.mktemp("stack")
    # The functions verify tokens against the session's key pair.
    (state / "jwt-private.pem").write_bytes(keys[0].read_bytes())
    (state / "jwt-public.pem").write_bytes(keys[1].read_bytes())
    # A short workflow lease and event lock, so a retried task or redelivered event takes over
    # from a killed unit within seconds (the fault-injection tests).
    running = Stack(
        project=STACK_PROJECT,
        state_dir=state,
        extra_env={"WORKFLOW_LEASE_SECONDS": "4", "EVENT_LOCK_SECONDS": "5"},
    ).start()
    services.reset()
    try:
        yield running
    finally:
        running.stop()
        os.environ.clear()
        os.environ.update(saved)
        services.reset()
