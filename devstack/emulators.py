"""The Firestore, Pub/Sub and Cloud Tasks emulators, started as DESIGN.md measured fastest."""

from __future__ import annotations

import functools
import glob
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from devstack.procs import REPO, Proc, spawn, wait_until_ready

TASKS_VENV = REPO / ".venv-tasks"

# The emulator's own command line binds every interface; these lines bind loopback only.
_TASKS_MAIN = """
import logging, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
import grpc
from gcloud_tasks_emulator.server import create_server
_server = grpc.server
def _loopback_server(*args, **kwargs):
    srv = _server(*args, **kwargs)
    add = srv.add_insecure_port
    srv.add_insecure_port = lambda addr: add(addr.replace("[::]", "127.0.0.1"))
    return srv
grpc.server = _loopback_server
# Cloud Tasks attaches an OIDC token when a task names one (http_request.oidc_token); the emulator
# does not, so its dispatch asks the local issuer (devstack/identity.py) for that token first.
import json, urllib.request
from gcloud_tasks_emulator import server as _srv
_issuer, _dispatch = sys.argv[3], _srv._make_task_request
_queues = json.loads(sys.argv[4])  # queue id -> its settings in topology.json
# The emulator sends one task at a time per queue and retries a failed one at once; Cloud Tasks
# sends up to the queue's max_concurrent_dispatches at once and retries with exponential backoff
# between min_backoff_seconds and max_backoff_seconds. So do these: the queue's list is changed
# only under _state_lock, which a dispatch lets go of while its request runs.
_state_lock, _held = threading.Lock(), threading.local()
def _dispatch_with_token(queue_name, task, host, port):
    held = getattr(_held, "on", False)
    if held:
        _state_lock.release()
    try:
        oidc = task.http_request.oidc_token
        if task.http_request.url and oidc.service_account_email:
            ask = json.dumps({"email": oidc.service_account_email,
                              "audience": oidc.audience or task.http_request.url}).encode()
            req = urllib.request.Request(_issuer + "/mint", data=ask,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as answer:
                task.http_request.headers["Authorization"] = "Bearer " + json.load(answer)["token"]
        return _dispatch(queue_name, task, host, port)
    finally:
        if held:
            _state_lock.acquire()
_srv._make_task_request = _dispatch_with_token
def _process_queue(self, queue):
    conf = _queues.get(queue.rsplit("/", 1)[-1], {})
    limit = int(conf.get("max_concurrent_dispatches", 1))
    pool, inflight, guard = ThreadPoolExecutor(limit), set(), threading.Lock()
    def run(name):
        try:
            with _state_lock:
                _held.on = True
                try:
                    task = self._state.submit_task(name)
                finally:
                    _held.on = False
                if task.last_attempt.response_status.code >= 400 and task in self._state._queue_tasks[queue]:
                    wait = min(conf.get("min_backoff_seconds", 0.1) * 2 ** (task.dispatch_count - 1),
                               conf.get("max_backoff_seconds", 3600))
                    task.schedule_time = datetime.now(timezone.utc) + timedelta(seconds=wait)
        except Exception:
            logging.exception("dispatching %s failed", name)
        finally:
            with guard:
                inflight.discard(name)
    while self._is_running.is_set():
        if queue not in self._state._queues or queue not in self._state._queue_tasks:
            break
        if self._state.queue(queue).state == _srv.Queue.State.RUNNING:
            now = datetime.now(timezone.utc)
            for task in list(self._state._queue_tasks[queue]):
                if task.schedule_time and task.schedule_time > now:
                    continue  # not due yet
                with guard:
                    if task.name in inflight or len(inflight) >= limit:
                        continue
                    inflight.add(task.name)
                pool.submit(run, task.name)
        time.sleep(0.02)
_srv.Processor._process_queue = _process_queue
logging.basicConfig(level=logging.WARNING, stream=sys.stdout)
create_server("127.0.0.1", int(sys.argv[1]), "127.0.0.1", 1, [], int(sys.argv[2])).run()
"""


@functools.lru_cache(maxsize=1)
def sdk_root() -> Path:
    for candidate in ("/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk"):
        if Path(candidate, "platform").is_dir():
            return Path(candidate)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise RuntimeError(
            "the gcloud SDK is not installed; it ships the Firestore and Pub/Sub emulators"
        )
    out = subprocess.run(
        [gcloud, "info", "--format=value(installation.sdk_root)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def start_firestore(port: int, log_dir: Path) -> Proc:
    jar = sdk_root() / "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
    cmd = [
        "java",
        "-Duser.language=en",
        "-cp",
        str(jar),
        "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
        "start",
        "--host=127.0.0.1",
        f"--port={port}",
        "--database-mode=firestore-native",
    ]
    proc = spawn("firestore", cmd, port, log_dir)
    wait_until_ready(proc)
    return proc


def start_pubsub(port: int, log_dir: Path) -> Proc:
    jars = sorted(
        glob.glob(str(sdk_root() / "platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar"))
    )
    if not jars:
        raise RuntimeError("the Pub/Sub emulator jar is missing from the gcloud SDK")
    cmd = ["java", "-jar", jars[-1], "--host=127.0.0.1", f"--port={port}"]
    proc = spawn("pubsub", cmd, port, log_dir)
    wait_until_ready(proc)
    return proc


def start_tasks(port: int, log_dir: Path, issuer: str, max_retries: int = 5) -> Proc:
    """The Cloud Tasks emulator; a task naming an OIDC token gets one from ``issuer``."""
    python = TASKS_VENV / "bin/python"
    if not python.exists():
        raise RuntimeError(f"{python} is missing: run scripts/bootstrap first")
    topology = json.loads((REPO / "terraform/topology.json").read_text())
    queues = json.dumps({q["name"]: q for q in topology["queues"]})
    cmd = [str(python), "-c", _TASKS_MAIN, str(port), str(max_retries), issuer, queues]
    proc = spawn("tasks", cmd, port, log_dir)
    wait_until_ready(proc, http_path=None)
    return proc


BQ_VENV = REPO / ".venv-bq"


def start_bigquery(port: int, log_dir: Path, project: str) -> Proc:
    """The DuckDB-backed BigQuery emulator. DuckDB looks for its spatial extension under
    ``$HOME/.duckdb``; we give the emulator a home of its own holding the packaged extension, so
    nothing is fetched."""
    import shutil

    from devstack.procs import free_port

    python = BQ_VENV / "bin/python"
    if not python.exists():
        raise RuntimeError(f"{python} is missing: run scripts/bootstrap first")
    home = log_dir.parent / "bq-home"
    target = home / ".duckdb/extensions/v1.5.5/linux_amd64"
    target.mkdir(parents=True, exist_ok=True)
    found = sorted(
        BQ_VENV.glob(
            "lib/python*/site-packages/duckdb_extension_spatial/extensions/v1.5.5/spatial.duckdb_extension"
        )
    )
    if found and not (target / found[0].name).exists():
        shutil.copy2(found[0], target / found[0].name)
    cmd = [
        str(BQ_VENV / "bin/bqemulator"),
        "start",
        f"--rest-port={port}",
        f"--grpc-port={free_port()}",
        f"--project={project}",
        "--log-level=warning",
        "--ephemeral",
    ]
    proc = spawn("bigquery", cmd, port, log_dir, env={"HOME": str(home)})
    wait_until_ready(proc, http_path=f"/bigquery/v2/projects/{project}/datasets", timeout=90)
    return proc


def reset_firestore(host: str, project: str) -> None:
    """Delete every document in the emulator's database for ``project``."""
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    # The emulator answers 409 while a transaction is still open (a push from the
    # previous test finishing its work); wait for it rather than failing the test.
    deadline = time.monotonic() + 30
    while True:
        req = urllib.request.Request(url, method="DELETE")
        try:
            with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - a loopback http URL we built
                return
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code != 409 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)
