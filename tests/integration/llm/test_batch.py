"""Batched LLM work end to end: the real SDKs' batch interfaces against the simulator, jobs and
usage on the Firestore emulator (submit, poll, collect, partial failures, fallback online)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from shared.ai.llm import LLMClient, LLMRequest, Message
from shared.ai.llm.batch.providers import batch_providers
from shared.ai.llm.batch.service import BatchItem, BatchService, job_id_for
from shared.ai.llm.catalog import Catalog
from shared.ai.llm.errors import BudgetExceeded
from shared.ai.llm.ledger import Ledger
from shared.ai.llm.policy import Limit, LLMPolicy, PolicyStore
from shared.ai.llm.router import RetryPolicy, Router
from shared.ai.llm.types import Usage
from shared.core.config import load_settings
from shared.core.messaging import MemoryPublisher
from shared.core.store.firestore import FirestoreStore
from shared.core.tenancy.scope import TenantStore
from tests.integration.llm.conftest import SleepLog, providers_for

if TYPE_CHECKING:
    from devstack.stack import Stack

SCHEMA = {
    "type": "object",
    "properties": {"subject": {"type": "string"}, "body": {"type": "string"}},
    "required": ["subject", "body"],
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def parts(clean_firestore: Stack, simulator_url: str, sim: Any) -> dict[str, Any]:
    store = FirestoreStore.from_settings(load_settings(os.environ))
    providers = providers_for(simulator_url)
    router = Router(providers, Catalog.load(), RetryPolicy(timeout_s=5), sleep=SleepLog())
    policies = PolicyStore(store, ttl_s=0)
    ledger = Ledger(store, MemoryPublisher())
    client = LLMClient(router, ledger=ledger, policies=policies)
    clock = Clock()
    service = BatchService(client, batch_providers(providers), clock=clock)
    return {
        "store": store,
        "scope": TenantStore(store, "acme"),
        "service": service,
        "ledger": ledger,
        "policies": policies,
        "clock": clock,
        "sim": sim,
    }


def _items(n: int, tier: str = "balanced") -> list[BatchItem]:
    return [
        BatchItem(
            ref=f"lead-{i}",
            crm_object=f"lead:lead-{i}",
            template_id="outreach_draft",
            template_version="2",
            request=LLMRequest(
                system="Write a short outreach email.",
                messages=[Message(role="user", content=f"Lead {i} works at Company {i}.")],
                tier=tier,
                response_schema=SCHEMA,
                max_tokens=200,
            ),
        )
        for i in range(n)
    ]


def _submit(parts: dict[str, Any], n: int, **kw: Any) -> dict[str, Any]:
    service: BatchService = parts["service"]
    return service.submit(
        parts["scope"],
        kw.pop("items", None) or _items(n),
        feature="workflow",
        deadline=kw.pop("deadline", timedelta(hours=24)),
        job_id=kw.pop("job_id", job_id_for("acme", None)),
        submitted_by="user-1",
    ).model_dump()


def _usage(parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [doc for _, doc in parts["scope"].query("tenants/acme/llm_usage")]


def test_a_job_goes_through_the_provider_batch_at_batch_prices(parts: dict[str, Any]) -> None:
    parts["policies"].put("acme", LLMPolicy(budget=Limit(monthly_usd=50.0)))
    job = _submit(parts, 6)
    assert job["state"] == "open"
    assert job["counts"] == {"submitted": 6}
    assert [pb["provider"] for pb in job["provider_batches"]] == [
        "openai"
    ]  # balanced -> gpt-4.1-mini
    reserved = parts["ledger"].budget_state("acme")["total"]["reserved_usd"]
    assert reserved > 0

    done = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert done["state"] == "completed"
    assert done["counts"] == {"done": 6}
    item = done["items"][0]
    assert item["result"]["batch"] is True and item["result"]["schema_valid"] is True
    assert set(item["result"]["structured"]) >= {"subject", "body"}

    usage = _usage(parts)
    assert len(usage) == 6 and all(u["batch"] for u in usage)
    assert {u["template_id"] for u in usage} == {"outreach_draft"}
    catalog = Catalog.load()
    u = usage[0]
    online = catalog.cost(
        u["model"],
        Usage(input_tokens=u["input_tokens"], output_tokens=u["output_tokens"]),
        datetime.now(UTC).date(),
    )
    assert u["cost_usd"] == pytest.approx(online / 2, rel=1e-6)
    budget = parts["ledger"].budget_state("acme")["total"]
    assert budget["reserved_usd"] == pytest.approx(0, abs=1e-9)
    assert budget["spent_usd"] == pytest.approx(sum(x["cost_usd"] for x in usage), rel=1e-6)
    assert done["batch_cost_usd"] == pytest.approx(budget["spent_usd"], rel=1e-6)

    # Collecting again changes nothing: no item is charged twice.
    again = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert again["state"] == "completed"
    assert len(_usage(parts)) == 6
    assert parts["ledger"].budget_state("acme")["total"]["spent_usd"] == pytest.approx(
        budget["spent_usd"]
    )


def test_an_anthropic_tier_uses_message_batches(parts: dict[str, Any]) -> None:
    items = _items(3, tier="best")  # best -> claude-sonnet-4-6 first
    job = _submit(parts, 0, items=items)
    assert [pb["provider"] for pb in job["provider_batches"]] == ["anthropic"]
    done = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert done["counts"] == {"done": 3}
    assert all(i["result"]["provider"] == "anthropic" for i in done["items"])
    assert all(i["result"]["schema_valid"] for i in done["items"])


def test_a_gemini_tier_uses_gemini_batch_mode(parts: dict[str, Any]) -> None:
    items = _items(4, tier="fast")  # fast -> gemini-2.5-flash first
    job = _submit(parts, 0, items=items)
    assert [pb["provider"] for pb in job["provider_batches"]] == ["gemini"]
    assert job["provider_batches"][0]["model"] == "gemini-2.5-flash"
    done = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert done["counts"] == {"done": 4}
    assert all(i["result"]["provider"] == "gemini" and i["result"]["batch"] for i in done["items"])
    assert all(set(i["result"]["structured"]) >= {"subject", "body"} for i in done["items"])
    usage = _usage(parts)
    assert len(usage) == 4 and all(u["batch"] and u["model"] == "gemini-2.5-flash" for u in usage)
    u = usage[0]
    online = Catalog.load().cost(
        u["model"],
        Usage(input_tokens=u["input_tokens"], output_tokens=u["output_tokens"]),
        datetime.now(UTC).date(),
    )
    assert u["cost_usd"] == pytest.approx(online / 2, rel=1e-6)


def test_gemini_items_that_failed_and_a_failed_gemini_batch_run_online(
    parts: dict[str, Any],
) -> None:
    parts["sim"].post(
        "/_sim/faults", json={"provider": "gemini", "fault": {"item_errors": 1}, "times": 1}
    )
    job = _submit(parts, 0, items=_items(3, tier="fast"))
    done = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert done["counts"] == {"done": 3}
    assert sorted(i["result"]["batch"] for i in done["items"]) == [False, True, True]

    parts["sim"].post(
        "/_sim/faults", json={"provider": "gemini", "fault": {"batch": "failed"}, "times": 1}
    )
    job = _submit(parts, 0, items=_items(2, tier="fast"))
    done = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert done["counts"] == {"done": 2}
    assert done["provider_batches"][0]["state"] == "failed"
    assert not any(i["result"]["batch"] for i in done["items"])


def test_items_the_provider_failed_run_online_and_nothing_is_lost(parts: dict[str, Any]) -> None:
    parts["sim"].post(
        "/_sim/faults", json={"provider": "openai", "fault": {"item_errors": 2}, "times": 1}
    )
    job = _submit(parts, 5)
    done = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert done["counts"] == {"done": 5}
    batch = [i for i in done["items"] if i["result"]["batch"]]
    online = [i for i in done["items"] if not i["result"]["batch"]]
    assert len(batch) == 3 and len(online) == 2
    usage = _usage(parts)
    assert len(usage) == 5  # one record per item, whichever path answered it
    assert sorted(u["batch"] for u in usage) == [False, False, True, True, True]
    assert done["online_cost_usd"] > 0


@pytest.mark.parametrize("outcome", ["failed", "expired"])
def test_a_failed_or_expired_batch_falls_back_online(parts: dict[str, Any], outcome: str) -> None:
    parts["sim"].post(
        "/_sim/faults", json={"provider": "openai", "fault": {"batch": outcome}, "times": 1}
    )
    job = _submit(parts, 4)
    done = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert done["counts"] == {"done": 4}
    assert all(not i["result"]["batch"] for i in done["items"])
    assert done["provider_batches"][0]["state"] == outcome
    budget = parts["ledger"].budget_state("acme")
    assert budget == {} or budget["total"]["reserved_usd"] == pytest.approx(0, abs=1e-9)


def test_a_batch_still_running_near_the_deadline_is_cancelled_and_run_online(
    parts: dict[str, Any],
) -> None:
    parts["sim"].post("/_sim/config", json={"batch_delay_s": 3600})
    job = _submit(parts, 3, deadline=timedelta(hours=2))
    early = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert early["state"] == "open" and early["counts"] == {"submitted": 3}
    parts["clock"].now += timedelta(hours=1, minutes=40)  # inside the last 20 % of the window
    late = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert late["state"] == "completed" and late["counts"] == {"done": 3}
    assert late["provider_batches"][0]["state"] == "abandoned"
    assert all(not i["result"]["batch"] for i in late["items"])


def test_the_same_idempotency_key_returns_the_same_job(parts: dict[str, Any]) -> None:
    job_id = job_id_for("acme", "nightly-2026-11-24")
    first = _submit(parts, 2, job_id=job_id)
    second = _submit(parts, 2, job_id=job_id)
    assert first["batch_id"] == second["batch_id"]
    assert len(parts["scope"].query(f"tenants/acme/llm_batches/{job_id}/items")) == 2


def test_a_job_over_budget_is_refused_before_anything_is_sent(parts: dict[str, Any]) -> None:
    parts["policies"].put("acme", LLMPolicy(budget=Limit(monthly_usd=0.0001)))
    with pytest.raises(BudgetExceeded):
        _submit(parts, 50)
    assert parts["scope"].query("tenants/acme/llm_batches") == []
    requests = parts["sim"].get("/_sim/requests").json()["requests"]
    assert requests == []


def test_online_mode_runs_everything_through_the_collector(parts: dict[str, Any]) -> None:
    parts["service"].mode = "online"
    job = _submit(parts, 3)
    assert job["counts"] == {"pending": 3} and job["provider_batches"] == []
    done = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert done["counts"] == {"done": 3}
    assert all(not i["result"]["batch"] for i in done["items"])
