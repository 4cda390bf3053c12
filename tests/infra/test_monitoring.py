"""The monitoring module's declarations (issue 17): metrics with bounded labels, emitted by the
code; the five alert rules, each notifying someone; dashboards and SLOs that name metrics that
exist. tests/integration/test_observability.py proves the metrics against real log lines."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "terraform/modules/monitoring"
METRICS = {
    m["name"]: m for m in json.loads((REPO / "terraform/metrics.json").read_text())["log_metrics"]
}
# Record ids make a label's cardinality unbounded: never a label.
RECORD_IDS = {
    "lead_id",
    "customer_id",
    "run_id",
    "entity_id",
    "event_id",
    "insight_id",
    "subject",
    "message_id",
    "request_id",
    "crm_object",
    "session_id",
    "task_id",
}
# Where a per-tenant view is the point (costs, budgets, each tenant's model, who is attacked).
PER_TENANT = {
    "llm_cost_usd",
    "llm_input_tokens",
    "llm_output_tokens",
    "llm_budget_thresholds",
    "scoring_psi",
    "scoring_auc",
    "scoring_ece",
    "security_events",
}
# Google's own metrics the dashboards and alerts read (Cloud Tasks, Pub/Sub).
GOOGLE = {
    "cloudtasks.googleapis.com/queue/depth",
    "cloudtasks.googleapis.com/queue/task_attempt_count",
    "cloudtasks.googleapis.com/queue/task_attempt_delays",
    "pubsub.googleapis.com/subscription/num_undelivered_messages",
    "pubsub.googleapis.com/subscription/oldest_unacked_message_age",
}
FIVE_RULES = (
    "llm_cost",
    "model_degradation",
    "provider_failures",
    "queue_depth",
    "security_events",
)


def _load(name: str) -> dict[str, Any]:
    with (MODULE / name).open() as f:
        return hcl2.load(f)


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 1 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _resources(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        _unquote(n): {k: _unquote(v) for k, v in b.items()}
        for r in doc.get("resource", [])
        for t, blocks in r.items()
        if _unquote(t) == kind
        for n, b in blocks.items()
    }


def test_labels_are_bounded() -> None:
    for name, metric in METRICS.items():
        fields = set(metric["labels"].values()) | set(metric["labels"])
        assert not fields & RECORD_IDS, f"{name} labels a record id: {fields & RECORD_IDS}"
        if "tenant_id" in fields:
            assert name in PER_TENANT, f"{name}: tenant_id only where a per-tenant view is needed"
        assert metric["description"] and set(metric.get("optional", [])) <= set(metric["labels"])


def test_every_metric_is_emitted_by_the_code() -> None:
    code = "\n".join(p.read_text() for p in (REPO / "shared").rglob("*.py"))
    for name, metric in METRICS.items():
        wanted = metric.get("match", {}).get("metric") or metric.get("present", [""])[0]
        assert f'"{wanted}"' in code, f"{name}: nothing in shared/ logs {wanted!r}"


def test_the_five_rules_have_alert_policies_that_notify() -> None:
    policies = _resources(_load("main.tf"), "google_monitoring_alert_policy")
    policies |= _resources(_load("slo.tf"), "google_monitoring_alert_policy")
    for rule in (*FIVE_RULES, "dead_letters", "slo_burn"):
        assert rule in policies, f"no alert policy for {rule}"
        assert policies[rule]["notification_channels"] == "${var.notification_channels}"
        assert policies[rule].get("documentation"), f"{rule}: say what to do when it fires"


def test_thresholds_are_variables_with_documented_defaults() -> None:
    variables = {
        _unquote(n): {k: _unquote(x) for k, x in b.items()}
        for v in _load("variables.tf")["variable"]
        for n, b in v.items()
    }
    text = (MODULE / "main.tf").read_text() + (MODULE / "slo.tf").read_text()
    for name in re.findall(r"var\.([a-z0-9_]+)", text):
        if name in ("project_id", "notification_channels"):
            continue
        assert "default" in variables[name] and variables[name]["description"], name


def test_dashboards_and_alerts_name_metrics_that_exist() -> None:
    text = "".join((MODULE / f).read_text() for f in ("main.tf", "slo.tf", "dashboards.tf"))
    for name in re.findall(r'google_logging_metric\.log\["([a-z0-9_]+)"\]', text):
        assert name in METRICS, f"{name} is not in terraform/metrics.json"
    for name in re.findall(r'"log:([a-z0-9_]+)"', text):
        assert name in METRICS, f"a dashboard charts {name}, which is not declared"
    for name in re.findall(r'"([a-z]+\.googleapis\.com/[a-z_/]+)"', text):
        assert name in GOOGLE | {"logging.googleapis.com/user"}, f"{name}: not a metric we know"
    dashboards = (MODULE / "dashboards.tf").read_text()
    for board in ("overview", "llm", "workflows", "scoring", "realtime"):
        assert re.search(rf"^\s+{board} = \[", dashboards, re.M), f"no {board} dashboard"


def test_slos_cover_api_availability_latency_and_workflow_deadlines() -> None:
    slos = _resources(_load("slo.tf"), "google_monitoring_slo")
    assert set(slos) == {"api_availability", "api_latency", "workflow_in_time"}
