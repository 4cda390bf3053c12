"""Ports for the local stack's processes are never handed out twice by one process."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from devstack import procs

if TYPE_CHECKING:
    import pytest


def test_a_port_the_kernel_offers_again_is_not_handed_out_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    offered = iter([41001, 41001, 41002])

    class Sock:
        def __enter__(self) -> Sock:
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

        def bind(self, address: tuple[str, int]) -> None:
            self.port = next(offered)

        def getsockname(self) -> tuple[str, int]:
            return ("127.0.0.1", self.port)

    monkeypatch.setattr(socket, "socket", Sock)
    monkeypatch.setattr(procs, "_HANDED_OUT", set())
    assert [procs.free_port(), procs.free_port()] == [41001, 41002]
