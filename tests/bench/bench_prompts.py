"""Prompt and batch benchmarks (run by ``scripts/bench``; prints figures, asserts nothing on time).

1. Tokens per template version: every shipped template version over its shipped cases, through
   the real SDKs against the provider simulator (token counts are the simulator's, which sizes
   prompts and answers like the providers within a few percent).
2. A 1,000-item background job (bulk outreach drafts with the shipped template): cost and wall
   time online (the collector calls the providers one by one, 4 threads) versus through the
   providers' batch interfaces at batch prices, with jobs and usage in memory.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

from devstack.procs import simulator
from shared.ai.llm import LLMClient
from shared.ai.llm.batch.providers import batch_providers
from shared.ai.llm.batch.service import BatchItem, BatchService, job_id_for
from shared.ai.llm.catalog import Catalog
from shared.ai.llm.ledger import Ledger
from shared.ai.llm.policy import PolicyStore
from shared.ai.llm.router import RetryPolicy, Router
from shared.ai.prompts.evaluate import evaluate, load_cases
from shared.ai.prompts.registry import default_registry
from shared.ai.prompts.service import prepare
from shared.core.store import MemoryStore
from shared.core.tenancy.scope import TenantStore
from tests.integration.llm.conftest import providers_for

ITEMS = 1_000


def tokens_per_version(url: str) -> None:
    client = LLMClient(Router(providers_for(url), Catalog.load(), RetryPolicy(timeout_s=10)))
    registry = default_registry()
    print("tokens per template version (shipped cases, simulator):")
    print(f"  {'template':<32}{'cases':>6}{'in':>8}{'out':>8}{'schema ok':>11}{'$ / call':>12}")
    for template_id in registry.ids():
        cases = load_cases(template_id)
        for template in registry.versions(template_id):
            s = evaluate(client, template, cases).summary()
            per_call = s["total_cost_usd"] / max(s["cases"] - s["errors"], 1)
            valid = "-" if s["schema_valid_rate"] is None else f"{s['schema_valid_rate']:.2f}"
            print(
                f"  {template.ref:<32}{s['cases']:>6}{s['avg_input_tokens']:>8}"
                f"{s['avg_output_tokens']:>8}{valid:>11}{per_call:>12.6f}"
            )
    client.router.close()


def _job(mode: str, url: str, model: str | None = None) -> dict[str, object]:
    store = MemoryStore()
    providers = providers_for(url)
    client = LLMClient(
        Router(providers, Catalog.load(), RetryPolicy(timeout_s=10)),
        ledger=Ledger(store),
        policies=PolicyStore(store),
    )
    service = BatchService(client, batch_providers(providers), mode=mode)
    scope = TenantStore(store, "bench")
    items = []
    for i in range(ITEMS):
        lead = {
            "name": f"Lead {i}",
            "title": ["CTO", "VP Sales", "Head of IT"][i % 3],
            "company": f"Company {i}",
            "source": "webinar",
        }
        rendered = prepare(
            scope, "outreach_draft", {"lead": json.dumps(lead)}, routing_key=f"lead-{i}"
        )
        request = (
            rendered.request.model_copy(update={"model": model}) if model else rendered.request
        )
        items.append(
            BatchItem(
                ref=f"lead-{i}",
                request=request,
                crm_object=f"lead:lead-{i}",
                template_id=rendered.template_id,
                template_version=str(rendered.version),
            )
        )
    t0 = time.perf_counter()
    job = service.submit(
        scope,
        items,
        feature="workflow",
        deadline=timedelta(hours=24),
        job_id=job_id_for("bench", mode),
        submitted_by="bench",
    )
    submitted = time.perf_counter() - t0
    view = service.collect(scope, job.batch_id)
    total = time.perf_counter() - t0
    usage = [d for _, d in scope.query("tenants/bench/llm_usage")]
    client.router.close()
    return {
        "state": view.state,
        "done": view.counts.get("done", 0),
        "records": len(usage),
        "cost": sum(d["cost_usd"] for d in usage),
        "tokens": sum(d["input_tokens"] + d["output_tokens"] for d in usage),
        "submit_s": submitted,
        "total_s": total,
    }


def batch_vs_online(url: str) -> None:
    print(f"\n{ITEMS}-item background job (outreach_draft, balanced tier -> gpt-4.1-mini):")
    rows = {"online": _job("online", url), "provider batch": _job("provider", url)}
    for name, r in rows.items():
        print(
            f"  {name:<15} {r['state']}, {r['done']} done, {r['records']} usage records, "
            f"{r['tokens']} tokens, cost ${r['cost']:.4f}, submit {r['submit_s']:.2f} s, "
            f"submit+collect {r['total_s']:.1f} s"
        )
    saving = 1 - rows["provider batch"]["cost"] / rows["online"]["cost"]  # type: ignore[operator]
    print(f"  batch saves {saving:.0%} of the online cost")
    print(
        f"\n{ITEMS}-item background job (outreach_draft pinned to gemini-2.5-flash, Gemini batch):"
    )
    for name, mode in (("online", "online"), ("provider batch", "provider")):
        r = _job(mode, url, model="gemini-2.5-flash")
        print(
            f"  {name:<15} {r['state']}, {r['done']} done, {r['records']} usage records, "
            f"{r['tokens']} tokens, cost ${r['cost']:.4f}, submit+collect {r['total_s']:.1f} s"
        )


def main() -> None:
    with simulator() as proc:
        tokens_per_version(proc.url)
        batch_vs_online(proc.url)


if __name__ == "__main__":
    main()
