"""Starting and stopping local processes, and waiting until they answer."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parent.parent


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never one this process was given before: the kernel can hand
    the same free port to two calls before the first taker binds it (a bench's workflow runner
    once got the identity stand-in's port, and the stack's readiness check passed on the wrong
    process)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class Proc:
    name: str
    port: int
    popen: subprocess.Popen[bytes]
    log_path: Path
    host: str = "127.0.0.1"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(
    name: str,
    cmd: list[str],
    port: int,
    log_dir: Path,
    env: dict[str, str] | None = None,
    *,
    append: bool = False,
    nice: int = 0,
) -> Proc:
    """Start ``cmd`` in a session of its own, its output in ``log_dir/<name>.log``. ``nice`` > 0
    lowers its CPU priority: its threads' nice value, and its session's scheduling group's
    (Linux shares CPU between sessions first when autogroup scheduling is on, so a process's nice
    value alone would not weigh against other sessions)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = log_path.open("ab" if append else "wb")  # a restart keeps what the dead one wrote
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    popen = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        start_new_session=True,  # its own process group, so stop() ends its children too
    )
    log.close()
    if nice:
        with contextlib.suppress(OSError):  # no autogroup scheduling: the nice value is enough
            Path(f"/proc/{popen.pid}/autogroup").write_text(str(nice))
    return Proc(name, port, popen, log_path)


def wait_until_ready(proc: Proc, *, http_path: str | None = "/", timeout: float = 60.0) -> None:
    """Wait until ``proc`` accepts connections (and answers HTTP at ``http_path``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.log_tail()}")
        if port_open(proc.host, proc.port):
            if http_path is None:
                return
            try:
                with urllib.request.urlopen(proc.url + http_path, timeout=2):  # noqa: S310 - loopback http
                    return
            except urllib.error.HTTPError as exc:
                exc.close()  # it holds the connection open; unclosed, it warns when collected
                return  # it answered, which is all readiness means here
            except OSError:
                pass
        time.sleep(0.1)
    proc.stop()
    raise TimeoutError(
        f"{proc.name} was not ready on {proc.address} after {timeout:.0f}s:\n{proc.log_tail()}"
    )


@contextlib.contextmanager
def simulator(log_dir: Path | None = None) -> Iterator[Proc]:
    """The LLM provider simulator as its own process, as ``scripts/up`` runs it, ready to answer;
    stopped on exit (its log in ``log_dir``, else a temporary folder)."""
    import sys
    import tempfile

    with contextlib.ExitStack() as stack:
        folder = log_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        port = free_port()
        proc = spawn(
            "simulator",
            [sys.executable, "-m", "devstack.simulator", f"--port={port}"],
            port,
            folder,
        )
        stack.callback(proc.stop)
        wait_until_ready(proc, http_path="/health")
        yield proc
