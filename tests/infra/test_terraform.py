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
from devstack.units import CALLERS, functions, load_units
from shared.core import config

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


def test_every_function_is_declared_in_units_json_and_deployed_from_it() -> None:
    """terraform/units.json names every functions/<name> with its entry point, and the platform
    deploys exactly that declaration: one for_each module, its settings from the declaration."""
    specs = discover_functions()
    assert specs, "no functions found"
    declared = functions()
    assert set(declared) == {s.name for s in specs}, "units.json and functions/ differ"
    for spec in specs:
        assert declared[spec.name]["entry_point"] == spec.entry_point, spec.name
        assert spec.kind == "http", f"{spec.name}: every unit is an HTTP function (L7)"
        assert declared[spec.name]["trigger"] in ("http", "pubsub", "tasks", "scheduler")
    modules = _modules(TF / "modules/platform/main.tf")
    assert not [name for name in modules if name.startswith("fn_")], "a function outside units.json"
    fn = modules["fn"]
    assert fn["source"] == "../cloud_function" and fn["for_each"] == "${local.functions}"
    assert fn["entry_point"] == "${each.value.entry_point}"
    assert fn["environment"] == "${local.function_env[each.key]}"
    assert fn["service_account_email"] == "${module.sa_fn[each.key].email}"
    platform = (TF / "modules/platform/main.tf").read_text()
    assert 'jsondecode(file("${path.module}/../../units.json"))' in platform
    assert "SERVICE_AUDIENCE = local.function_urls[name]" in platform
    for identity in load_units()["identities"]:
        assert f"account_id   = local.units.identities.{identity}" in platform, identity


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
    units = load_units()["functions"]
    platform = (TF / "modules/platform/main.tf").read_text()
    for sub in topo["subscriptions"]:
        assert sub["topic"] in topics
        if "dead_letter_topic" in sub:
            assert sub["dead_letter_topic"] in topics and 5 <= sub["max_delivery_attempts"] <= 100
        if "push_function" in sub:
            # A function, or a Cloud Run service (the real-time service's /_events).
            declared = {**load_units().get("services", {}), **units}
            assert sub["push_function"] in functions or sub["push_function"] in declared
            assert declared[sub["push_function"]]["trigger"] == "pubsub", sub["name"]
    assert 'if unit.trigger == "pubsub"' in platform.split("push_endpoints", 1)[1][:300]
    assert 'if svc.trigger == "pubsub"' in platform.split("push_endpoints", 1)[1][:400]


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
    # What shared/capabilities/realtime/intake.py does with its own subscription, and nothing more (issue 15,
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
    assert (
        "subscriptions/ai-events-rt-"
        in (REPO / "shared/capabilities/realtime/intake.py").read_text()
    )


def test_every_scheduler_tasks_or_push_target_knows_its_callers_identity() -> None:
    """A function Cloud Scheduler, Cloud Tasks or Pub/Sub invokes verifies the caller's OIDC
    token against that identity: without the setting every call is refused in the cloud (issue
    15: insights_jobs lacked SCHEDULER_SERVICE_ACCOUNT). tests/functions/test_config_source.py
    calls each such unit with exactly these settings."""
    targets = 0
    for name, unit in functions().items():
        caller = CALLERS.get(unit["trigger"])
        if caller is None:
            continue
        targets += 1
        assert unit["env"][caller[1]] == {"identity": caller[0]}, name
    assert targets == 8


def test_units_that_call_no_provider_cannot_read_the_llm_keys() -> None:
    """Every function has an identity of its own (issue 15, L10: fn-llm-caller was shared by 8
    units, 4 internet-facing); only those that call OpenAI or Anthropic read the keys."""
    declared = functions()
    assert not declared["usage_api"].get("llm_keys") and not declared["prompts_api"].get("llm_keys")
    platform = (TF / "modules/platform/main.tf").read_text()
    keys = platform.split('resource "google_secret_manager_secret_iam_member" "llm_keys"', 1)[1]
    assert "keys(local.llm_callers)" in keys.split("\n}", 1)[0]
    assert (
        "llm_callers = { for name, unit in local.functions : name => unit if try(unit.llm_keys, false) }"
        in platform
    )
    assert platform.count('resource "google_secret_manager_secret_iam_member"') == 1
    assert 'account_id    = "fn-${replace(each.key, "_", "-")}"' in platform


def test_prod_must_name_its_kms_key() -> None:
    """The Pub/Sub topics' checkov skip says prod sets a customer-managed key: prod's variable
    has no default, so a plan without one fails (issue 15, L10)."""
    variables = hcl2.loads((TF / "environments/prod/variables.tf").read_text())["variable"]
    kms = next(v['"kms_key_name"'] for v in variables if '"kms_key_name"' in v)
    assert "default" not in kms and kms.get("validation")


def test_the_compliance_step_runs_a_tool_pinned_by_hash() -> None:
    """terraform-compliance is installed with every package pinned by version and sha256, not
    pulled as an image by a mutable tag (issue 15, L10)."""
    build = (REPO / "cloudbuild.yaml").read_text()
    step = build.split("- id: compliance", 1)[1].split("- id:", 1)[0]
    assert "--require-hashes" in step and "requirements/compliance.txt" in step
    assert "eerkunt/" not in build
    text = (REPO / "requirements/compliance.txt").read_text()
    pins = re.findall(
        r"^([a-z0-9_.-]+)==([\w.]+) \\\n    --hash=sha256:([0-9a-f]{64})$", text, re.M
    )
    packages = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert len(pins) == len(packages) and any(p[0] == "terraform-compliance" for p in pins)
