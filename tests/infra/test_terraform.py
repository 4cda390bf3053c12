"""Terraform matches the code: one function module per functions/<name> with the right entry
point, every topic and queue the code names is declared, and the route table covers the routes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from devstack.procs import REPO
from devstack.topology import (
    discover_functions,
    function_routes,
    load_routes,
    load_topology,
    route_regex,
)
from shared import config

TF = REPO / "terraform"


def _unquote(value: Any) -> Any:
    return (
        value[1:-1]
        if isinstance(value, str) and value.startswith('"') and value.endswith('"')
        else value
    )


def _modules(path: Path) -> dict[str, dict[str, Any]]:
    with path.open() as f:
        doc = hcl2.load(f)
    out: dict[str, dict[str, Any]] = {}
    for block in doc.get("module", []):
        for name, body in block.items():
            out[_unquote(name)] = {k: _unquote(v) for k, v in body.items()}
    return out


def test_every_function_has_a_module_with_its_entry_point() -> None:
    modules = _modules(TF / "modules/platform/main.tf")
    specs = discover_functions()
    assert specs, "no functions found"
    for spec in specs:
        module = modules.get(f"fn_{spec.name}")
        assert module is not None, f"functions/{spec.name} has no module fn_{spec.name}"
        assert module["source"] == "../cloud_function"
        assert module["name"] == spec.name
        assert module["entry_point"] == spec.entry_point, (
            f"{spec.name}: entry point differs from main.py"
        )
        assert module["source_dir"].endswith(f"/{spec.name}")
    fn_modules = {name for name in modules if name.startswith("fn_")}
    assert fn_modules == {f"fn_{s.name}" for s in specs}, "a module has no functions/<name>"


def test_both_environments_instantiate_the_platform() -> None:
    for env in ("dev", "prod"):
        module = _modules(TF / f"environments/{env}/main.tf")["platform"]
        assert module["source"] == "../../modules/platform"
        assert module["environment"] == env


def test_every_topic_and_queue_the_code_uses_is_declared() -> None:
    topo = load_topology()
    topics = {t["name"] for t in topo["topics"]}
    queues = {q["name"] for q in topo["queues"]}
    used_topics = {v for k, v in vars(config).items() if k.startswith("TOPIC_")}
    used_queues = {v for k, v in vars(config).items() if k.startswith("QUEUE_")}
    assert used_topics and used_topics <= topics, used_topics - topics
    assert used_queues and used_queues <= queues, used_queues - queues
    # And no string literal names an undeclared topic behind the constants' back.
    for path in (REPO / "shared").rglob("*.py"):
        for name in re.findall(r"publish\(\s*\"([a-z0-9-]+)\"", path.read_text()):
            assert name in topics, f"{path}: publishes to undeclared topic {name}"


def test_subscriptions_point_at_declared_topics_and_functions() -> None:
    topo = load_topology()
    topics = {t["name"] for t in topo["topics"]}
    functions = {s.name: s for s in discover_functions()}
    platform = (TF / "modules/platform/main.tf").read_text()
    for sub in topo["subscriptions"]:
        assert sub["topic"] in topics
        if "dead_letter_topic" in sub:
            assert sub["dead_letter_topic"] in topics and 5 <= sub["max_delivery_attempts"] <= 100
        if "push_function" in sub:
            assert functions[sub["push_function"]].kind == "cloud_event"
            name = sub["push_function"]
            assert re.search(rf"{name}\s*=\s*module\.fn_{name}\.uri", platform), (
                f"no push endpoint for {name}"
            )


def test_the_route_table_matches_the_functions_routes() -> None:
    table = {(r["method"], r["path"]): r["function"] for r in load_routes()}
    assert table == {key: name for key, (name, _) in function_routes().items()}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/ai/crm/leads/l1", "/api/v1/ai/crm/{collection}/{record_id}"),
        (
            "/api/v1/ai/crm/customers/c1/interactions",
            "/api/v1/ai/crm/customers/{customer_id}/interactions",
        ),
    ],
)
def test_route_templates_match_paths(path: str, expected: str) -> None:
    matches = [r["path"] for r in load_routes() if route_regex(r["path"]).match(path)]
    assert matches[0] == expected


def test_functions_declare_the_runtime_terraform_uses() -> None:
    body = (TF / "modules/cloud_function/variables.tf").read_text()
    assert re.search(r'default\s*=\s*"python31[1-3]"', body), (
        "the Cloud Functions runtime must be Python 3.11-3.13"
    )


def test_every_run_service_is_deployed_with_an_identity_that_can_fan_out() -> None:
    modules = _modules(TF / "modules/platform/main.tf")
    services = sorted(
        p.name for p in (REPO / "run_services").iterdir() if (p / "main.py").is_file()
    )
    assert services == ["realtime"]
    module = modules["run_realtime"]
    assert module["source"] == "../run_service" and module["name"] == "realtime"
    assert module["image"] == "${var.realtime_image}"
    for env in ("dev", "prod"):
        assert _modules(TF / f"environments/{env}/main.tf")["platform"]["realtime_image"] == (
            "${var.realtime_image}"
        )
    # What shared/realtime/intake.py does with its own subscription, and nothing more (issue 15,
    # M5): the subscription permissions only for its own names, attaching only to ai-events.
    platform = (TF / "modules/platform/main.tf").read_text()

    def block(header: str) -> str:
        return platform.split(header, 1)[1].split("\n}", 1)[0]

    role = block('resource "google_project_iam_custom_role" "realtime_fanout"')
    assert set(re.findall(r'"(pubsub\.[a-zA-Z.]+)"', role)) == {
        "pubsub.subscriptions.create",
        "pubsub.subscriptions.consume",
        "pubsub.subscriptions.delete",
        "pubsub.subscriptions.get",
    }
    attach = block('resource "google_project_iam_custom_role" "realtime_attach"')
    assert re.findall(r'"(pubsub\.[a-zA-Z.]+)"', attach) == ["pubsub.topics.attachSubscription"]
    binding = platform.split('resource "google_project_iam_member" "realtime_fanout"', 1)[1]
    assert "subscriptions/ai-events-rt-" in binding.split("\n}\n", 1)[0]
    on_topic = block('resource "google_pubsub_topic_iam_member" "realtime_attach"')
    assert 'topic_ids["ai-events"]' in on_topic and "realtime_attach.name" in on_topic
    assert "realtime_fanout" not in block('module "sa_realtime"')
    assert "subscriptions/ai-events-rt-" in (REPO / "shared/realtime/intake.py").read_text()


def test_every_scheduler_or_tasks_target_knows_its_callers_identity() -> None:
    """A function Cloud Scheduler (or Cloud Tasks) may invoke verifies the caller's OIDC token
    against that identity: without the setting every call is refused in the cloud (issue 15:
    insights_jobs lacked SCHEDULER_SERVICE_ACCOUNT)."""
    modules = _modules(TF / "modules/platform/main.tf")
    targets = 0
    for name, module in modules.items():
        invokers = str(module.get("invoker_members", ""))
        environment = str(module.get("environment", ""))
        if "sa_scheduler" in invokers:
            targets += 1
            assert "SCHEDULER_SERVICE_ACCOUNT" in environment, name
        if "sa_tasks" in invokers:
            targets += 1
            assert "TASKS_SERVICE_ACCOUNT" in environment, name
    assert targets >= 4  # llm_batch_jobs, scoring_jobs, insights_jobs, workflow_runner


def test_usage_api_cannot_read_the_llm_keys() -> None:
    """usage_api calls no provider: its identity has no secret access (issue 15, L10)."""
    modules = _modules(TF / "modules/platform/main.tf")
    usage = modules["fn_usage_api"]
    assert "sa_usage_api" in usage["service_account_email"] and "secret_environment" not in usage
    platform = (TF / "modules/platform/main.tf").read_text()
    accessors = re.findall(
        r'resource "google_secret_manager_secret_iam_member"[^{]*\{(.*?)\n\}', platform, re.S
    )
    assert accessors and not any("sa_usage_api" in block for block in accessors)


def test_prod_must_name_its_kms_key() -> None:
    """The Pub/Sub topics' checkov skip says prod sets a customer-managed key: prod's variable
    has no default, so a plan without one fails (issue 15, L10)."""
    variables = hcl2.loads((TF / "environments/prod/variables.tf").read_text())["variable"]
    kms = next(v['"kms_key_name"'] for v in variables if '"kms_key_name"' in v)
    assert "default" not in kms and kms.get("validation")
