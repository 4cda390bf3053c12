"""Insights for accounts of the team kit's crm-sales-opportunities data (run by ``scripts/bench``).

Each account becomes a customer; each of its opportunities becomes a logged interaction
("GTX Pro deal engaged 2016-10-20, Won 2017-03-01 for 4,514"), indexed as CRM events would. Then
``churn_risk`` and ``upsell`` insights are generated for three accounts through the provider
simulator, with timing, and one is printed in full. The simulator writes placeholder prose; the
structure, the retrieval and the citations are the real thing.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections import defaultdict

from devstack.procs import REPO, simulator
from shared.ai.embeddings.local import LocalOnnxEmbedder
from shared.ai.llm import LLMClient
from shared.ai.llm.catalog import Catalog
from shared.ai.llm.router import RetryPolicy, Router
from shared.capabilities.insights.history import index_interaction
from shared.capabilities.insights.service import generate
from shared.core.store import MemoryStore
from shared.core.tenancy.scope import TenantStore
from tests.integration.llm.conftest import providers_for

DATA = REPO.parent / "shared" / "data" / "crm-sales-opportunities"


def main() -> None:
    if not DATA.exists():
        print(f"skipped: {DATA} is not here (the team kit's data)")
        return
    accounts = {r["account"]: r for r in csv.DictReader((DATA / "accounts.csv").open())}
    deals = defaultdict(list)
    for row in csv.DictReader((DATA / "sales_pipeline.csv").open()):
        if row["account"]:
            deals[row["account"]].append(row)
    chosen = sorted(deals, key=lambda a: -len(deals[a]))[:3]
    scope = TenantStore(MemoryStore(), "sales")
    embedder = LocalOnnxEmbedder()
    t0 = time.perf_counter()
    indexed = 0
    for account in chosen:
        cid = account.lower().replace(" ", "-")
        scope.set(
            scope.path("customers", cid),
            {"customer_id": cid, **accounts.get(account, {"account": account})},
        )
        for row in deals[account]:
            iid = f"opp-{row['opportunity_id']}"
            value = f" for {int(row['close_value']):,}" if row["close_value"] else ""
            body = (
                f"{row['product']} deal handled by {row['sales_agent']}: engaged {row['engage_date'] or 'not yet'}, "
                f"stage {row['deal_stage']}{' on ' + row['close_date'] if row['close_date'] else ''}{value}."
            )
            when = row["close_date"] or row["engage_date"] or "2017-01-01"
            scope.set(
                scope.path("interactions", iid),
                {
                    "customer_id": cid,
                    "channel": "note",
                    "body": body,
                    "occurred_at": f"{when}T00:00:00+00:00",
                },
            )
            indexed += index_interaction(scope, embedder, iid)
    print(
        f"{len(chosen)} accounts ({', '.join(chosen)}), {indexed} opportunity notes indexed in {time.perf_counter() - t0:.1f} s"
    )
    with simulator() as sim:
        client = LLMClient(
            Router(providers_for(sim.url), Catalog.load(), RetryPolicy(timeout_s=10))
        )
        times, example = [], None
        for account in chosen:
            cid = account.lower().replace(" ", "-")
            t0 = time.perf_counter()
            out = generate(scope, client, embedder, cid, ["churn_risk", "upsell"], force=True)
            times.append((time.perf_counter() - t0) * 1000 / len(out))
            example = example or out[0]
        print(
            f"insight generation (retrieval + one model call each, simulator): median {statistics.median(times):.0f} ms per insight"
        )
        print(json.dumps(example, indent=2)[:3000])
        client.router.close()


if __name__ == "__main__":
    main()
