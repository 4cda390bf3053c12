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


def test_the_capacity_model_scales_with_traffic_and_names_the_first_limit() -> None:
    from devstack.capacity import model

    one, two = model(1.0), model(2.0)
    assert all(usd > 0 for usd in one["monthly_usd"].values())
    assert two["per_day"]["firestore_writes"] == 2 * one["per_day"]["firestore_writes"]
    first, again = one["limits"][0], two["limits"][0]
    assert first.name == again.name and again.headroom == first.headroom / 2
    assert all(lim.headroom >= first.headroom for lim in one["limits"])
    # The budget document's renewals depend on instances, not traffic, and stay under 1/s.
    assert all(lim.used <= lim.capacity for lim in one["bounded"])


def test_the_model_reads_the_socket_services_declared_ceiling() -> None:
    import re

    from devstack.capacity import SOCKET_MAX_INSTANCES, SOCKETS_PER_INSTANCE

    variables = (REPO / "terraform/modules/run_service/variables.tf").read_text()

    def default(name: str) -> int:
        block = variables.split(f'variable "{name}"')[1].split("}")[0]
        found = re.search(r"default\s*=\s*(\d+)", block)
        assert found, name
        return int(found.group(1))

    assert default("max_instances") == SOCKET_MAX_INSTANCES
    assert default("concurrency") == SOCKETS_PER_INSTANCE
