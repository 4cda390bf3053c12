"""Document-store operations per unit of work (issue 19: count, then cut). Prints figures.

Starts the local stack with ``STORE_OP_COUNTS=1`` (shared/core/store/counting.py: every function
counts its Firestore operations and logs them per request, push, task and workflow step), runs
real flows through the gateway and Pub/Sub, and reads the counts back from the logs:

- per workflow run and per step, for each workflow type (lead qualification, an outreach draft
  with its approval, a triage started by an inbound message);
- per ingested CRM event, per lead rescored on an event, per lead scored through the API, per
  chat turn;
- the hottest path patterns of the workflow runs.

    .venv/bin/python -m tests.bench.bench_store_ops [RUNS_PER_TYPE]
"""

from __future__ import annotations

import collections
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from devstack.stack import Stack
from devstack.tokens import mint_token
from shared.core.config import TOPIC_CRM_EVENTS, load_settings
from shared.core.messaging.pubsub import PubSubPublisher, ordering_key
from shared.core.store.firestore import FirestoreStore
from tests.helpers import crm_event

TENANT = "ops"
KINDS = ("reads", "writes", "queries", "commits", "attempts")


def main() -> None:
    per_type = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            project="bench-ops", state_dir=Path(tmp), extra_env={"STORE_OP_COUNTS": "1"}
        ).start()
        try:
            run(stack, per_type)
        finally:
            stack.stop()


def _lines(stack: Stack) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((stack.state_dir / "logs").glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{") and "store_ops" in line:
                out.append((path.stem, json.loads(line)))
    return out


def _fmt(ops: dict[str, float]) -> str:
    total = sum(ops.get(k, 0) for k in ("reads", "writes", "queries", "commits"))
    parts = " ".join(f"{k} {ops.get(k, 0):.1f}" for k in KINDS)
    return f"{total:6.1f} ops ({parts})"


def _mean(dicts: list[dict[str, int]]) -> dict[str, float]:
    return {k: statistics.mean(d.get(k, 0) for d in dicts) for k in KINDS} if dicts else {}


def run(stack: Stack, per_type: int) -> None:
    settings = load_settings(stack.env())
    store = FirestoreStore.from_settings(settings)
    store.set(f"tenants/{TENANT}", {"tenant_id": TENANT})
    for i in range(per_type * 3):
        store.set(
            f"tenants/{TENANT}/leads/lead-{i}",
            {"lead_id": f"lead-{i}", "name": f"Lead {i}", "title": "CTO", "source": "webinar"},
        )
    store.set(f"tenants/{TENANT}/customers/cust-1", {"customer_id": "cust-1", "name": "Initech"})
    token = mint_token(stack.private_key.read_text(), tenant_id=TENANT, roles=["admin"])
    api = httpx.Client(
        base_url=stack.procs["gateway"].url + "/api/v1/ai",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    triggers = {"triggers": {"interaction.inbound_message": {"type": "interaction_triage"}}}
    api.put("/workflow-triggers", json=triggers).raise_for_status()

    def until(run_id: str, wanted: set[str]) -> dict[str, Any]:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            body: dict[str, Any] = api.get(f"/workflows/{run_id}").json()
            if body["status"] in wanted:
                return body
            time.sleep(0.3)
        raise TimeoutError(run_id)

    runs: dict[str, list[str]] = collections.defaultdict(list)
    for i in range(per_type):
        body: dict[str, Any] = {"type": "lead_qualification", "lead_id": f"lead-{i}"}
        runs["lead_qualification"].append(api.post("/workflows", json=body).json()["run_id"])
        body = {"type": "outreach_draft", "lead_id": f"lead-{per_type + i}", "input": {}}
        runs["outreach_draft"].append(api.post("/workflows", json=body).json()["run_id"])
    for run_id in runs["lead_qualification"]:
        until(run_id, {"completed", "failed"})
    for run_id in runs["outreach_draft"]:
        task = until(run_id, {"waiting_for_human", "failed"})["pending_task"]["task_id"]
        decision = {"task_id": task, "decision": "approve"}
        api.put(f"/workflows/{run_id}/continue", json=decision).raise_for_status()
        until(run_id, {"completed", "failed"})

    publisher = PubSubPublisher.from_settings(settings)
    events = [
        crm_event(
            "interaction.logged",
            tenant_id=TENANT,
            event_id=f"ops-inbound-{i}",
            entity_id=f"int-{i}",
            payload={
                "channel": "support_message",
                "direction": "inbound",
                "customer_id": "cust-1",
                "subject": "Invoice",
                "body": f"Why is invoice {i} higher than last month?",
            },
        )
        for i in range(per_type)
    ] + [
        crm_event(
            tenant_id=TENANT,
            event_id=f"ops-lead-{i}",
            entity_id=f"new-lead-{i}",
            payload={"email": f"n{i}@example.com", "company": f"Company {i}"},
        )
        for i in range(per_type * 2)
    ]
    for event in events:
        publisher.publish(
            TOPIC_CRM_EVENTS,
            event,
            ordering_key=ordering_key(TENANT, event["entity_id"]),
            attributes={"tenant_id": TENANT},
        )
    for i in range(per_type):
        lead = {"lead_id": f"lead-{2 * per_type + i}"}
        api.post("/scoring/leads", json=lead).raise_for_status()
        api.post(
            "/insights/chat",
            json={"message": f"What did they ask about, question {i}?", "customer_id": "cust-1"},
            headers={"Accept": "text/event-stream"},
        ).raise_for_status()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        triage = store.query(
            f"tenants/{TENANT}/workflow_runs", where=[("type", "==", "interaction_triage")]
        )
        if len(triage) == per_type and all(
            d["status"] in ("waiting_for_human", "completed", "failed") for _, d in triage
        ):
            break
        time.sleep(0.5)
    runs["interaction_triage"] = [rid for rid, _ in triage]
    time.sleep(3)  # the last pushes' lines
    report(_lines(stack), runs)
    api.close()


def report(lines: list[tuple[str, dict[str, Any]]], runs: dict[str, list[str]]) -> None:
    print("Firestore operations per unit of work (reads = documents read; mean per unit):")
    tasks = collections.defaultdict(list)
    steps = collections.defaultdict(list)
    hot: collections.Counter[str] = collections.Counter()
    for unit, e in lines:
        if unit == "workflow_runner" and e.get("unit_of_work") == "POST /":
            tasks[e.get("run_id")].append(e["store_ops"])
            for path, n in e["store_ops_by_path"].items():
                hot[path] += n
        if e.get("unit_of_work") == "workflow step":
            steps[(e["workflow_type"], e["node"])].append(e["store_ops"])
    starts = [e["store_ops"] for u, e in lines if e.get("route") == "POST /api/v1/ai/workflows"]
    decisions = [
        e["store_ops"]
        for u, e in lines
        if e.get("route") == "PUT /api/v1/ai/workflows/{run_id}/continue"
    ]
    by_path = _per_run(lines, runs, tasks)
    print(f"  {'POST /workflows':20s} per start            {_fmt(_mean(starts))}")
    print(f"  {'PUT .../continue':20s} per decision         {_fmt(_mean(decisions))}")
    print("  per workflow step (type, node):")
    for (kind, node), ops in sorted(steps.items()):
        print(f"    {kind:20s} {node:28s} {_fmt(_mean(ops))}  (n={len(ops)})")
    _report_units(lines)
    print("  hottest path patterns over every workflow slice (operations):")
    for path, n in hot.most_common(12):
        print(f"    {n:6d}  {path}")
    for kind, counts in by_path.items():
        print(f"  {kind} per run, by path (mean over {len(runs[kind])} runs):")
        for path, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            if not path.startswith("attempts"):
                print(f"    {n / len(runs[kind]):6.1f}  {path}")


def _per_run(
    lines: list[tuple[str, dict[str, Any]]], runs: dict[str, list[str]], tasks: dict[Any, list[Any]]
) -> dict[str, collections.Counter[str]]:
    """Print each workflow type's operations per run; answer its operations by path."""
    by_path: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for kind, ids in runs.items():
        per_run = []
        for run_id in ids:
            total: collections.Counter[str] = collections.Counter()
            for ops in tasks.get(run_id, []):
                total.update(ops)
            per_run.append(dict(total))
            for _, e in lines:
                if e.get("unit_of_work") == "POST /" and e.get("run_id") == run_id:
                    by_path[kind].update(e["store_ops_by_path"])
        print(f"  {kind:20s} per run (runner slices) {_fmt(_mean(per_run))}")
    return by_path


def _report_units(lines: list[tuple[str, dict[str, Any]]]) -> None:
    """Operations per unit of work outside the workflows: events, scoring, chat."""

    def units(name: str, match: Any) -> None:
        found = [e["store_ops"] for u, e in lines if match(u, e)]
        print(f"  {name:36s} {_fmt(_mean(found))}  (n={len(found)})")

    units("per ingested CRM event (crm_events)", lambda u, e: u == "crm_events")
    units("per lead rescored on an event", lambda u, e: u == "scoring_events")
    units(
        "per lead scored through the API",
        lambda u, e: e.get("route") == "POST /api/v1/ai/scoring/leads",
    )
    chat = [e["store_ops"] for u, e in lines if e.get("route") == "POST /api/v1/ai/insights/chat"]
    streams = [e["store_ops"] for u, e in lines if e.get("unit_of_work") == "chat stream"]
    both = [
        {k: a.get(k, 0) + b.get(k, 0) for k in KINDS} for a, b in zip(chat, streams, strict=False)
    ]
    print(f"  {'per chat turn (request + stream)':36s} {_fmt(_mean(both))}  (n={len(both)})")


if __name__ == "__main__":
    main()
