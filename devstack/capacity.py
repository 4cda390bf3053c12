"""The capacity model (issue 19; docs/capacity.md): what the product needs from Firestore,
Pub/Sub, Cloud Tasks and Cloud Run at a given scale, what that costs a month at list prices,
and which declared or platform limit is met first.

Every per-unit figure below was measured on the local stack (``tests/bench/bench_store_ops.py``,
``bench_workflow_load.py``, ``bench_llm_budget.py``, ``bench_realtime.py``); what was not
measured is marked ``assumed``. Change a figure, run ``./scripts/capacity`` again.

    ./scripts/capacity [--scale 2.0]
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from typing import Any

from devstack.procs import REPO

DAY_S = 86_400
MONTH_DAYS = 30

# --- the target (issue 19) -----------------------------------------------------------------------
TARGET = {
    "tenants": 10_000,
    "leads_scored_per_day": 1_000_000,
    "workflows_per_day": 100_000,
    "concurrent_sockets": 5_000,
    "chat_turns_per_day": 50_000,  # assumed: 5 a day for each of 10,000 tenants' active users
    "crm_events_per_day": 1_000_000,  # assumed: one ingested event behind each scored lead
    "peak_to_average": 3.0,  # assumed: the busiest hour carries 3x the day's average rate
    "largest_tenant_share": 0.05,  # assumed: the biggest tenant makes 5 % of all traffic
}
WORKFLOW_MIX = {"lead_qualification": 0.4, "outreach_draft": 0.3, "interaction_triage": 0.3}

# --- measured per unit of work (docs/scale.md; reads include each query's results) ---------------
# (document reads, document writes, queries); a query with no result still bills one read.
OPS = {
    "lead_qualification": (9.0 + 1, 22.0 + 1, 1.0),  # runner slices + POST /workflows
    "outreach_draft": (11.8 + 2, 30.6 + 2, 2.0),  # + the start and the decision
    "interaction_triage": (5.0, 20.0, 6.0),  # started by an event (counted below)
    "crm_event": (4.0, 3.0, 0.0),
    "scored_lead": (3.0, 1.0, 0.0),
    "chat_turn": (3.5, 4.0, 6.0),
}
# Documents a unit leaves that Firestore's TTL later deletes (checkpoints, pending writes, runs,
# usage records, events' idempotency marks): about its creations.
TTL_DELETES = {
    "lead_qualification": 12,
    "outreach_draft": 15,
    "interaction_triage": 11,
    "crm_event": 2,
    "scored_lead": 0,
    "chat_turn": 2,
}
LLM_CALLS = {"lead_qualification": 2, "outreach_draft": 2, "interaction_triage": 2, "chat_turn": 1}
# Pub/Sub messages published per unit (ai-events: created, status changes, one per step; the
# CRM's own event in; llm-usage one per model call) and the subscriptions each one reaches.
MESSAGES = {
    "lead_qualification": 9,
    "outreach_draft": 12,
    "interaction_triage": 10,
    "crm_event": 2,
    "scored_lead": 1,
    "chat_turn": 1,
}
DELIVERIES_PER_MESSAGE = 2.0  # assumed: ai-events to the real-time service and one other unit
MESSAGE_KB = 1.0  # Pub/Sub bills at least 1 KB per message; ours are 0.4-1 KB
TASKS = {"lead_qualification": 1.0, "outreach_draft": 2.0, "interaction_triage": 1.0}
# CPU seconds per unit in the function that does it (measured on this machine's cores, which
# are slower than Cloud Run's; the runner's includes its share of the LLM client).
CPU_S = {
    "lead_qualification": 0.108,  # bench_workflow_load (1,000 runs): workflow_runner CPU per run
    "outreach_draft": 0.16,  # assumed: 4/3 of lead qualification (one more step)
    "interaction_triage": 0.20,  # assumed: + a knowledge search (embedding)
    "crm_event": 0.010,  # assumed
    "scored_lead": 0.005,  # assumed
    "chat_turn": 0.25,  # assumed: retrieval (embedding) and a stream
    "api_request": 0.015,  # assumed: the gateway's and a function's edge work
}
WALL_S = {"workflow_slice": 5.0, "api_request": 0.2}  # assumed: a slice's and a request's time
SOCKETS_PER_INSTANCE = 1_000  # bench_realtime: 1,000 sockets on one instance, p95 336 ms
SOCKET_MAX_INSTANCES = 10  # terraform/modules/run_service: max_instances (its concurrency: 1,000)

# --- list prices (USD; Google's pricing pages as stored on 2026-12-02; confirm before use) -------
PRICES = {
    "firestore_read_per_100k": 0.06,  # nam5 (terraform: firestore_location)
    "firestore_write_per_100k": 0.18,
    "firestore_delete_per_100k": 0.02,
    "firestore_gib_month": 0.18,
    "pubsub_per_tib": 40.0,
    "tasks_per_million": 0.40,
    "run_vcpu_s": 0.000024,  # request-based billing, tier 1 (us-central1)
    "run_gib_s": 0.0000025,
    "run_per_million_requests": 0.40,
    "run_vcpu_s_always_on": 0.000018,  # instance-based billing (the socket service)
    "run_gib_s_always_on": 0.000002,
}
# bench_workflow_load: 2.6 KB per step, 6 steps, plus the run document; a usage record: assumed
STORED_KB = {"workflow_state_per_run": 19.0, "usage_record": 1.0}
RETENTION_DAYS = {"workflow_state": 90, "usage_record": 400}

# --- limits ---------------------------------------------------------------------------------------
FIRESTORE_WRITES_PER_S = 10_000  # planning figure for one database (ramped up by 500/50/5)
DOC_WRITES_PER_S = 1.0  # Firestore's sustained writes to one document


@dataclass
class Limit:
    name: str
    capacity: float
    used: float  # at the target (scale 1.0)
    scales: bool = True  # False: set by declared instance counts, not by traffic

    @property
    def headroom(self) -> float:
        return self.capacity / self.used if self.used else math.inf


def _declared() -> dict[str, Any]:
    units = json.loads((REPO / "terraform/units.json").read_text())
    topology = json.loads((REPO / "terraform/topology.json").read_text())
    runner = units["functions"]["workflow_runner"]
    defaults = units["defaults"]
    queues = {q["name"]: q for q in topology["queues"]}
    # Every instance of a unit that calls models may hold a lease of the largest tenant's budget.
    callers = ("workflow_runner", "insights_api", "insights_events")
    llm_instances = sum(
        units["functions"][name].get("max_instances", defaults["max_instances"]) for name in callers
    )
    return {
        "llm_instances": llm_instances,
        "runner_slots": runner.get("max_instances", defaults["max_instances"])
        * runner.get("concurrency", defaults["concurrency"]),
        "queue_rate": queues["workflows-interactive"]["max_dispatches_per_second"],
        "function_instances": defaults["max_instances"],
        "function_concurrency": defaults["concurrency"],
    }


def model(scale: float = 1.0) -> dict[str, Any]:
    volumes = ("_per_day", "concurrent_sockets")
    t = {k: v * scale if k.endswith(volumes) else v for k, v in TARGET.items()}
    units = {kind: t["workflows_per_day"] * share for kind, share in WORKFLOW_MIX.items()}
    units |= {
        "crm_event": t["crm_events_per_day"],
        "scored_lead": t["leads_scored_per_day"],
        "chat_turn": t["chat_turns_per_day"],
    }
    reads = sum(n * (OPS[k][0] + OPS[k][2]) for k, n in units.items())
    writes = sum(n * OPS[k][1] for k, n in units.items())
    deletes = sum(n * TTL_DELETES[k] for k, n in units.items())
    calls = sum(n * LLM_CALLS.get(k, 0) for k, n in units.items())
    messages = sum(n * MESSAGES[k] for k, n in units.items()) + calls  # + llm-usage
    tasks = sum(n * TASKS.get(k, 0) for k, n in units.items())
    api_requests = (
        t["workflows_per_day"] * 1.3 + t["chat_turns_per_day"] * 2 + units["scored_lead"] * 0.1
    )
    cpu = sum(n * CPU_S[k] for k, n in units.items()) + api_requests * CPU_S["api_request"]
    stored_gib = (
        t["workflows_per_day"]
        * STORED_KB["workflow_state_per_run"]
        * RETENTION_DAYS["workflow_state"]
        + calls * STORED_KB["usage_record"] * RETENTION_DAYS["usage_record"]
    ) / 1024**2
    peak = t["peak_to_average"]
    socket_instances = math.ceil(t["concurrent_sockets"] / SOCKETS_PER_INSTANCE)
    month = MONTH_DAYS
    p = PRICES
    cost = {
        "Firestore": (
            reads * month / 1e5 * p["firestore_read_per_100k"]
            + writes * month / 1e5 * p["firestore_write_per_100k"]
            + deletes * month / 1e5 * p["firestore_delete_per_100k"]
            + stored_gib * p["firestore_gib_month"]
        ),
        "Pub/Sub": messages
        * (1 + DELIVERIES_PER_MESSAGE)
        * MESSAGE_KB
        * month
        / 1024**3
        * p["pubsub_per_tib"],
        "Cloud Tasks": tasks * 2 * month / 1e6 * p["tasks_per_million"],
        "Cloud Run (functions)": (
            cpu * month * (p["run_vcpu_s"] + 1.0 * p["run_gib_s"])
            + (api_requests + tasks + messages * DELIVERIES_PER_MESSAGE)
            * month
            / 1e6
            * p["run_per_million_requests"]
        ),
        "Cloud Run (sockets, always on)": socket_instances
        * month
        * DAY_S
        * (p["run_vcpu_s_always_on"] + 0.5 * p["run_gib_s_always_on"]),
    }
    declared = _declared()
    peak_runs = t["workflows_per_day"] / DAY_S * peak
    peak_calls_tenant = calls / DAY_S * peak * t["largest_tenant_share"]
    from shared.ai.llm.aggregates import INTERVAL_S
    from shared.ai.llm.leases import SLICE_SECONDS

    limits = [
        Limit(
            "Cloud Tasks: workflows-interactive dispatches/s",
            declared["queue_rate"],
            peak_runs * 1.3,
        ),
        Limit(
            "workflow runner slots (instances x concurrency)",
            declared["runner_slots"],
            peak_runs * 1.3 * WALL_S["workflow_slice"],
        ),
        Limit("Firestore writes/s (one database)", FIRESTORE_WRITES_PER_S, writes / DAY_S * peak),
        Limit(  # one shard per instance, written at most once an interval (llm/aggregates.py)
            "one usage shard's writes/s (llm_usage_daily, per instance, coalesced)",
            DOC_WRITES_PER_S,
            min(1 / INTERVAL_S, peak_calls_tenant),
            scales=False,
        ),
        Limit(
            "one tenant's budget document writes/s (lease renewals)",
            DOC_WRITES_PER_S,
            declared["llm_instances"] / SLICE_SECONDS,
            scales=False,
        ),
        Limit(
            "socket service instances (1,000 sockets each)", SOCKET_MAX_INSTANCES, socket_instances
        ),
    ]
    return {
        "scale": scale,
        "per_day": {
            "firestore_reads": reads,
            "firestore_writes": writes,
            "firestore_deletes": deletes,
            "llm_calls": calls,
            "pubsub_messages": messages,
            "tasks": tasks,
            "function_cpu_s": cpu,
        },
        "peak": {
            "workflows_per_s": peak_runs,
            "firestore_writes_per_s": writes / DAY_S * peak,
            "function_instances": math.ceil(cpu / DAY_S * peak / 0.6),  # at 60 % CPU each
            "socket_instances": socket_instances,
        },
        "stored_gib": stored_gib,
        "monthly_usd": cost,
        "limits": sorted((lim for lim in limits if lim.scales), key=lambda lim: lim.headroom),
        "bounded": [lim for lim in limits if not lim.scales],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the target's volumes")
    out = model(parser.parse_args().scale)
    print(f"Capacity at {out['scale']:g}x the target ({TARGET['tenants']:,} tenants):")
    for name, value in out["per_day"].items():
        print(f"  {name:22s} {value:16,.0f} a day")
    for name, value in out["peak"].items():
        print(f"  peak {name:22s} {value:11,.1f}")
    print(f"  stored (retention included)  {out['stored_gib']:,.1f} GiB")
    print("Monthly cost at list prices (USD, prices as of 2026-12-02; LLM providers not included):")
    for name, usd in out["monthly_usd"].items():
        print(f"  {name:32s} {usd:12,.2f}")
    print(f"  {'total':32s} {sum(out['monthly_usd'].values()):12,.2f}")
    print("Limits, nearest first (headroom = how many times this scale fits):")
    for lim in out["limits"]:
        print(f"  {lim.headroom:8.1f}x  {lim.name}: {lim.used:,.2f} of {lim.capacity:,.0f}")
    for lim in out["bounded"]:
        print(
            f"  bounded by design, whatever the traffic: {lim.name}: {lim.used:.2f} of {lim.capacity:g}"
        )
    first = out["limits"][0]
    print(f"First limit met: {first.name}, at {out['scale'] * first.headroom:.1f}x the target.")


if __name__ == "__main__":
    main()
