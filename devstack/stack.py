"""The whole local stack in one object: emulators, topology, functions, real-time service,
gateway."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devstack import emulators
from devstack.crm_oidc import CLIENT_ID as CRM_CLIENT_ID
from devstack.procs import REPO, Proc, free_port, port_open, spawn, wait_until_ready
from devstack.tokens import GOOGLE_PREFIX, ensure_keypair, mint_google_token
from devstack.topology import apply_to_emulators, create_bigquery_tables, discover_functions
from devstack.units import functions, identity_email, unit_env

VENV_BIN = Path(sys.executable).parent
BACKGROUND_TRIGGERS = frozenset({"pubsub", "tasks", "scheduler"})


@dataclass
class Stack:
    project: str
    state_dir: Path
    fixed_ports: bool = False
    with_functions: bool = True
    with_gateway: bool = True
    procs: dict[str, Proc] = field(default_factory=dict)
    function_urls: dict[str, str] = field(default_factory=dict)
    service_urls: dict[str, str] = field(default_factory=dict)  # the real-time service
    gateway_url: str = ""
    restarts: dict[str, int] = field(default_factory=dict)  # by supervise()
    extra_env: dict[str, str] = field(default_factory=dict)  # given to every function process
    # The CPU priority (a nice value) of the functions that events, tasks and schedules drive.
    # In the cloud every unit has CPUs of its own, so a burst of background work does not slow a
    # person's request; here all share two cores, and the units that answer people go first.
    background_nice: int = 5

    def _port(self, default: int) -> int:
        # scripts/up prefers the well-known ports, but takes a free one if something holds it.
        return default if self.fixed_ports and not port_open("127.0.0.1", default) else free_port()

    @property
    def public_key(self) -> Path:
        return ensure_keypair(self.state_dir)[1]

    @property
    def private_key(self) -> Path:
        return ensure_keypair(self.state_dir)[0]

    def env(self) -> dict[str, str]:
        """The environment every local unit (and test) runs with."""
        env = {
            "GOOGLE_CLOUD_PROJECT": self.project,
            "APP_ENV": "local",
            "AUTH_PUBLIC_KEY_FILE": str(self.public_key),
            "PYTHONPATH": str(REPO),
        }
        if "identity" in self.procs:
            # Service calls carry tokens of the local issuer, checked as Google's are.
            env["SERVICE_JWKS_URL"] = self.issuer + "/oauth2/v3/certs"
            env["SERVICE_TOKEN_ISSUER"] = self.issuer
        if "simulator" in self.procs:
            env["LLM_SIMULATOR_URL"] = self.procs["simulator"].url
        if "workflow_runner" in self.function_urls:
            env["WORKFLOW_RUNNER_URL"] = self.function_urls["workflow_runner"]
        if "realtime" in self.service_urls:
            # The console, served by the real-time service, calls the API from the browser.
            env["CORS_ORIGINS"] = self.service_urls["realtime"]
        for name, var in (
            ("firestore", "FIRESTORE_EMULATOR_HOST"),
            ("pubsub", "PUBSUB_EMULATOR_HOST"),
            ("tasks", "CLOUD_TASKS_EMULATOR_HOST"),
            ("bigquery", "BIGQUERY_EMULATOR_HOST"),
        ):
            if name in self.procs:
                env[var] = self.procs[name].address
        return {**env, **self.extra_env}

    @property
    def issuer(self) -> str:
        """The local stand-in for Google's token issuer (devstack/identity.py)."""
        return self.procs["identity"].url

    def function_env(self, name: str) -> dict[str, str]:
        """What function ``name`` runs with: the shared environment plus its own settings from
        terraform/units.json, as Terraform gives them in the cloud."""
        return {
            **self.env(),
            **unit_env(name, project=self.project, urls=self.function_urls),
            **self.extra_env,
        }

    def service_token(self, identity: str, audience: str) -> str:
        """An OIDC token of the local issuer for a declared identity (``scheduler``, ``tasks``,
        ``pubsub_push``...), as Google would mint it for that service account."""
        private = ensure_keypair(self.state_dir, GOOGLE_PREFIX)[0].read_text()
        email = identity_email(identity, self.project)
        return mint_google_token(private, issuer=self.issuer, email=email, audience=audience)

    def start(self) -> Stack:
        logs = self.state_dir / "logs"
        try:
            specs = discover_functions() if self.with_functions else []
            for i, spec in enumerate(specs):
                self.function_urls[spec.name] = f"http://127.0.0.1:{self._port(8101 + i)}"
            if self.with_functions:
                self.service_urls["realtime"] = f"http://127.0.0.1:{self._port(8096)}"
            if self.with_gateway:
                self.gateway_url = f"http://127.0.0.1:{self._port(8080)}"
            port = self._port(8079)
            targets = {**self.function_urls, **self.service_urls}
            urls = ",".join(f"{k}={v}" for k, v in targets.items())
            cmd = [
                str(VENV_BIN / "python"),
                "-m",
                "devstack.identity",
                f"--port={port}",
                f"--state={self.state_dir}",
            ]
            env = {"GOOGLE_CLOUD_PROJECT": self.project, "LOCAL_FUNCTION_URLS": urls}
            self.procs["identity"] = spawn("identity", cmd, port, logs, env=env)
            wait_until_ready(self.procs["identity"], http_path="/oauth2/v3/certs")
            self.procs["firestore"] = emulators.start_firestore(self._port(8081), logs)
            self.procs["pubsub"] = emulators.start_pubsub(self._port(8085), logs)
            self.procs["tasks"] = emulators.start_tasks(self._port(9022), logs, self.issuer)
            self.procs["bigquery"] = emulators.start_bigquery(self._port(9050), logs, self.project)
            sim_port = self._port(8090)
            sim_cmd = [str(VENV_BIN / "python"), "-m", "devstack.simulator", f"--port={sim_port}"]
            self.procs["simulator"] = spawn("simulator", sim_cmd, sim_port, logs)
            wait_until_ready(self.procs["simulator"], http_path="/health")
            os.environ.update(self.env())
            for spec in specs:
                self.start_function(spec.name)
            for spec in specs:
                wait_until_ready(self.procs[spec.name], http_path=None)
            apply_to_emulators(self.project, targets, push_relay=self.issuer)
            create_bigquery_tables(self.project)
            if self.with_functions:
                # The real-time WebSocket service (Cloud Run in the cloud); it subscribes to
                # ai-events, so it starts once the topology exists.
                self.procs["realtime"] = self.start_realtime("realtime")
                wait_until_ready(self.procs["realtime"], http_path="/health")
            if self.with_gateway:
                port = int(self.gateway_url.rsplit(":", 1)[1])
                urls = ",".join(f"{k}={v}" for k, v in self.function_urls.items())
                cmd = [str(VENV_BIN / "python"), "-m", "devstack.gateway", f"--port={port}"]
                env = {**self.env(), "LOCAL_FUNCTION_URLS": urls}
                self.procs["gateway"] = spawn("gateway", cmd, port, logs, env=env)
                wait_until_ready(self.procs["gateway"], http_path=None)
        except BaseException:
            self.stop()
            raise
        return self

    def supervise(self) -> list[str]:
        """Restart every function process that died, as the cloud replaces a crashed instance
        (Pub/Sub and Cloud Tasks deliver again what it did not acknowledge). Returns the names
        restarted; a component that is not a function (an emulator, the gateway) is not
        restarted: :meth:`dead_components` names those."""
        restarted = []
        for name, proc in list(self.procs.items()):
            if name in self.function_urls and not proc.alive():
                self.start_function(name, append_log=True)
                self.restarts[name] = self.restarts.get(name, 0) + 1
                restarted.append(name)
        return restarted

    def dead_components(self) -> list[str]:
        return [n for n, p in self.procs.items() if n not in self.function_urls and not p.alive()]

    def start_realtime(self, name: str, port: int | None = None) -> Proc:
        """A real-time service instance, with the settings units.json gives the service (a
        second one, on another port, plays a new Cloud Run instance)."""
        port = port or int(self.service_urls["realtime"].rsplit(":", 1)[1])
        cmd = [str(VENV_BIN / "python"), "-m", "shared.edge.realtime", f"--port={port}"]
        urls = {**self.function_urls, **self.service_urls}
        env = {**self.env(), **unit_env("realtime", project=self.project, urls=urls)}
        if self.gateway_url:
            env["CONSOLE_API_URL"] = self.gateway_url
        if "identity" in self.procs:
            env["CONSOLE_DEMO_TOKEN_URL"] = self.issuer + "/demo-token"
            # The CRM's OIDC provider, played by devstack/crm_oidc.py (sign-in with PKCE).
            env["CONSOLE_OIDC_ISSUER"] = self.issuer + "/crm"
            env["CONSOLE_OIDC_CLIENT_ID"] = CRM_CLIENT_ID
        return spawn(name, cmd, port, self.state_dir / "logs", env=env)

    def start_function(self, name: str, *, append_log: bool = False) -> Proc:
        """(Re)start one function's functions-framework process on its assigned port."""
        spec = next(s for s in discover_functions() if s.name == name)
        port = int(self.function_urls[name].rsplit(":", 1)[1])
        cmd = [
            str(VENV_BIN / "functions-framework"),
            f"--target={spec.entry_point}",
            f"--source={spec.source}",
            "--host=127.0.0.1",
            f"--port={port}",
        ]
        background = functions()[name]["trigger"] in BACKGROUND_TRIGGERS
        self.procs[name] = spawn(
            name,
            cmd,
            port,
            self.state_dir / "logs",
            env=self.function_env(name),
            append=append_log,
            nice=self.background_nice if background else 0,
        )
        return self.procs[name]

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()
        self.procs.clear()
