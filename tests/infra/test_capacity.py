"""Capacity declarations agree (issue 19): Cloud Tasks never dispatches more slices at once than
the runner's instances can take, and the local stack serves each function with the concurrency
Terraform gives it."""

from __future__ import annotations

import json

from devstack.procs import REPO
from devstack.units import functions, load_units, unit_env


def test_the_workflow_queues_fit_the_runners_declared_slots() -> None:
    topology = json.loads((REPO / "terraform/topology.json").read_text())
    queues = [q for q in topology["queues"] if q["name"].startswith("workflows-")]
    assert queues
    defaults = load_units()["defaults"]
    runner = functions()["workflow_runner"]
    slots = runner.get("max_instances", defaults["max_instances"]) * runner.get(
        "concurrency", defaults["concurrency"]
    )
    assert sum(q["max_concurrent_dispatches"] for q in queues) <= slots


def test_terraform_and_the_local_stack_share_the_defaults() -> None:
    main = (REPO / "terraform/modules/platform/main.tf").read_text()
    for setting in ("concurrency", "max_instances", "memory", "cpu", "timeout_seconds"):
        assert f"try(each.value.{setting}, local.units.defaults.{setting})" in main, setting
    urls = {name: f"http://127.0.0.1:{9000 + i}" for i, name in enumerate(functions())}
    for name, unit in functions().items():
        threads = unit_env(name, project="p", urls=urls)["THREADS"]
        assert threads == str(unit.get("concurrency", load_units()["defaults"]["concurrency"]))
