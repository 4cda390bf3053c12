"""``terraform/units.json``: each deployed function's trigger, identity and settings, read by
Terraform (``modules/platform``) and here, so a local function runs with the settings it gets in
the cloud (issue 15: one configuration source)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from devstack.procs import REPO

UNITS = REPO / "terraform/units.json"

# Which identity calls a unit of each trigger, and the setting naming it there.
CALLERS = {
    "pubsub": ("pubsub_push", "PUSH_SERVICE_ACCOUNT"),
    "tasks": ("tasks", "TASKS_SERVICE_ACCOUNT"),
    "scheduler": ("scheduler", "SCHEDULER_SERVICE_ACCOUNT"),
}


def load_units() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(UNITS.read_text())
    return data


def functions() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load_units()["functions"]
    return found


def services() -> dict[str, dict[str, Any]]:
    """The Cloud Run services (the real-time service), declared like the functions."""
    found: dict[str, dict[str, Any]] = load_units().get("services", {})
    return found


def account_id(identity: str) -> str:
    """A declared infrastructure identity (``pubsub_push``...), or a function's own (``fn-<name>``)."""
    infra: dict[str, str] = load_units()["identities"]
    return infra.get(identity) or "fn-" + identity.replace("_", "-")


def identity_email(identity: str, project: str) -> str:
    return f"{account_id(identity)}@{project}.iam.gserviceaccount.com"


def unit_env(name: str, *, project: str, urls: dict[str, str]) -> dict[str, str]:
    """The settings ``units.json`` gives function ``name`` beyond the shared sets, resolved as
    Terraform resolves them: ``{identity: X}`` to that service account's email, ``{url: X}`` to
    function X's URL (``urls``), plus ``SERVICE_AUDIENCE``, the unit's own URL."""
    unit = {**services(), **functions()}[name]
    env = {"SERVICE_AUDIENCE": urls[name]}
    if name in functions():  # requests served at once: gunicorn's threads, Cloud Run's concurrency
        env["THREADS"] = str(unit.get("concurrency", load_units()["defaults"]["concurrency"]))
        # Instances: gunicorn worker processes, each with its own clients, caches and leases,
        # as Cloud Run's instances are. Cloud Run adds instances under load; the local stack
        # cannot, so a unit that needs more than one declares how many it starts with.
        env["WORKERS"] = str(unit.get("local_instances", 1))
    for var, ref in unit.get("env", {}).items():
        if "identity" in ref:
            env[var] = identity_email(ref["identity"], project)
        elif "url" in ref:
            env[var] = urls[ref["url"]]
        else:
            env[var] = str(ref["value"])
    return env


def caller_identity(name: str) -> str | None:
    """The identity whose OIDC token a call to unit ``name`` carries (None: user JWTs, through
    the gateway)."""
    found = CALLERS.get(functions()[name]["trigger"])
    return found[0] if found else None


@dataclass(frozen=True)
class Job:
    name: str
    function: str
    body: dict[str, Any]
    local_every_seconds: float | None


def scheduled_jobs() -> list[Job]:
    return [
        Job(job, name, spec["body"], spec.get("local_every_seconds"))
        for name, unit in functions().items()
        for job, spec in unit.get("schedules", {}).items()
    ]
