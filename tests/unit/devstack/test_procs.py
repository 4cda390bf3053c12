"""Ports for the local stack's processes are never handed out twice by one process; a process
started at a lower priority runs at it."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
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


def test_a_background_process_runs_at_the_lower_priority(tmp_path: Path) -> None:
    import time

    script = "import os, time; print(os.nice(0), flush=True); time.sleep(30)"
    proc = procs.spawn("low", [sys.executable, "-c", script], 0, tmp_path, nice=5)
    try:
        deadline = time.monotonic() + 10
        while not proc.log_path.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.log_path.read_text().strip() == str(os.nice(0) + 5)
        autogroup = Path(f"/proc/{proc.popen.pid}/autogroup")
        if autogroup.exists():  # Linux with autogroup scheduling: the session's group too
            assert autogroup.read_text().split()[-1] == "5"
    finally:
        proc.stop()
