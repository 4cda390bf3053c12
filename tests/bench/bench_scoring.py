"""Lead scoring benchmarks on the team kit's real data (run by ``scripts/bench``; prints figures).

- bank-additional-full (UCI Bank Marketing, Moro et al. 2014), ``duration`` left out by the
  leakage guard: 5-fold stratified AUC and ECE; trained on the first 80 % of rows and tested on
  the last 20 % (time order); training time on all 41,188 rows; scoring 10,000 leads.
- crm-sales-opportunities (Maven Analytics), won vs lost, joined with accounts, products and
  teams: 5-fold AUC and what the leakage guard left out.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import time
from typing import Any

from devstack.procs import REPO
from shared.capabilities.scoring.metrics import summary
from shared.capabilities.scoring.training import labels, train

DATA = REPO.parent / "shared/data"


def _cv(
    frame: Any, target: str, positive: str, id_column: str | None = None
) -> tuple[float, float, Any]:
    from sklearn.model_selection import StratifiedKFold

    _, y = labels(frame, target, positive)
    labelled, _ = labels(frame, target, positive)
    aucs, eces, model = [], [], None
    for k, (tr, te) in enumerate(
        StratifiedKFold(5, shuffle=True, random_state=0).split(labelled, y)
    ):
        model = train(
            labelled.iloc[tr], target=target, positive=positive, id_column=id_column, seed=k
        )
        figures = summary(y[te], model.predict_proba(labelled.iloc[te]))
        aucs.append(figures["auc"])
        eces.append(figures["ece"])
    return statistics.mean(aucs), statistics.mean(eces), model


def _rolling(frame: Any, cut: int, windows: int) -> float:
    """The last rows scored in ``windows`` slices, each by a model trained on every row before
    it: what scheduled retraining gives (the rolling window of Moro et al.)."""
    import numpy as np

    from shared.capabilities.scoring.metrics import auc

    edges = np.linspace(cut, len(frame), windows + 1).astype(int)
    scores, outcomes = [], []
    for start, end in itertools.pairwise(edges):
        model = train(frame.iloc[:start], target="y", positive="yes")
        rows, y = labels(frame.iloc[start:end], "y", "yes")
        scores.append(model.predict_proba(rows))
        outcomes.append(y)
    return float(auc(np.concatenate(outcomes), np.concatenate(scores)))


def bench_bank() -> None:
    import pandas as pd

    frame = pd.read_csv(DATA / "bank-marketing/bank-additional-full.csv", sep=";")
    auc, ece, model = _cv(frame, "y", "yes")
    print("bank-additional-full (41,188 rows):")
    print(f"  5-fold stratified: AUC {auc:.3f}  ECE {ece:.4f}")
    print(f"  left out: {[e['field'] for e in model.report['excluded']]}")
    cut = int(len(frame) * 0.8)
    timed = train(frame.iloc[:cut], target="y", positive="yes")
    test, y = labels(frame.iloc[cut:], "y", "yes")
    figures = summary(y, timed.predict_proba(test))
    print(
        f"  time order, first 80 % -> last 20 %: AUC {figures['auc']:.3f}  ECE {figures['ece']:.3f} "
        f"(base rate {y.mean():.1%} vs {timed.report['positives'] / timed.report['labelled_rows']:.1%} in training)"
    )
    context = timed.report.get("context", {})
    print(
        f"  context fields: {sorted(context.get('context_fields', {}))}; period key "
        f"{context.get('period_key')}: {context.get('periods')} periods in training"
    )
    print(f"  same test rows, retrained as outcomes arrive: AUC {_rolling(frame, cut, 10):.3f}")
    start = time.perf_counter()
    full = train(frame, target="y", positive="yes")
    print(f"  training on all 41,188 rows: {time.perf_counter() - start:.1f} s on 2 threads")
    batch = frame.sample(10_000, random_state=2)
    start = time.perf_counter()
    full.predict_proba(batch)
    plain = time.perf_counter() - start
    start = time.perf_counter()
    full.score(batch)
    explained = time.perf_counter() - start
    print(
        f"  scoring 10,000 leads: {plain:.2f} s (probability only), {explained:.2f} s with confidence and reasons"
    )
    start = time.perf_counter()
    for i in range(200):
        full.score(batch.iloc[[i]])
    print(f"  one lead with reasons: {(time.perf_counter() - start) / 200 * 1000:.1f} ms")


def bench_crm() -> None:
    import pandas as pd

    base = DATA / "crm-sales-opportunities"
    deals = pd.read_csv(base / "sales_pipeline.csv")
    deals = deals.merge(pd.read_csv(base / "accounts.csv"), on="account", how="left")
    deals = deals.merge(pd.read_csv(base / "products.csv"), on="product", how="left")
    deals = deals.merge(pd.read_csv(base / "sales_teams.csv"), on="sales_agent", how="left")
    closed = deals[deals["deal_stage"].isin(["Won", "Lost"])]
    auc, ece, model = _cv(closed, "deal_stage", "Won", id_column="opportunity_id")
    print(
        f"crm-sales-opportunities (won {int((closed.deal_stage == 'Won').sum())}, lost "
        f"{int((closed.deal_stage == 'Lost').sum())}):"
    )
    print(f"  5-fold stratified: AUC {auc:.3f}  ECE {ece:.4f}")
    print(f"  context fields: {model.report.get('context', {}).get('context_fields', 'none')}")
    for item in model.report["excluded"]:
        print(f"  left out {item['field']}: {item['reason']}")


def main() -> None:
    if not DATA.exists():
        print("../shared/data is absent: nothing to measure", file=sys.stderr)
        return
    bench_bank()
    bench_crm()
    bench_gateway()


def bench_gateway(requests: int = 300) -> None:
    """Single-lead score latency through the local gateway -> scoring_api -> Firestore emulator."""
    import statistics as stats
    import tempfile
    from pathlib import Path

    import httpx

    from devstack.stack import Stack
    from devstack.tokens import mint_token
    from tests.functions.scoring_api.test_main import _seed

    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(project="bench-scoring", state_dir=Path(tmp)).start()
        try:
            _seed(2000)
            token = mint_token(stack.private_key.read_text(), tenant_id="acme", roles=["manager"])
            client = httpx.Client(
                base_url=stack.procs["gateway"].url,
                timeout=120,
                headers={"Authorization": f"Bearer {token}"},
            )
            trained = client.post("/api/v1/ai/scoring/models/train")
            trained.raise_for_status()
            times = []
            for i in range(requests):
                body = {
                    "lead_id": f"bench-{i}",
                    "fields": {
                        "source": "webinar",
                        "visited_pricing": "yes",
                        "minutes_on_site": i % 50,
                        "employees": 100 + i,
                    },
                }
                t0 = time.perf_counter()
                response = client.post("/api/v1/ai/scoring/leads", json=body)
                times.append((time.perf_counter() - t0) * 1000)
                response.raise_for_status()
            times.sort()
            print(
                f"single lead score through the local gateway ({requests} requests, fields in the body):"
            )
            print(
                f"  median {stats.median(times):.1f} ms  p95 {times[int(0.95 * len(times)) - 1]:.1f} ms"
            )
            _bench_bigquery(stack)
            batch = {"leads": [{"lead_id": f"lead-{i}"} for i in range(1000)]}
            t0 = time.perf_counter()
            client.post("/api/v1/ai/scoring/leads/batch", json=batch).raise_for_status()
            print(
                f"  batch of 1,000 read-model leads in one request: {time.perf_counter() - t0:.1f} s"
            )
            client.close()
        finally:
            stack.stop()


def _bench_bigquery(stack: Any, leads: int = 10_000) -> None:
    """Batch scoring of 10,000 open leads: BigQuery emulator in, model, BigQuery emulator out."""
    import json
    from datetime import UTC, datetime

    from devstack.demo_leads import make_leads
    from shared.capabilities.scoring.batch import bigquery_client, score_open_leads
    from shared.core.config import load_settings
    from shared.core.store.firestore import FirestoreStore
    from shared.core.tenancy.scope import TenantStore

    settings = load_settings(stack.env())
    client = bigquery_client(settings)
    frame = make_leads(leads, seed=33).drop(columns=["status"])
    now = datetime.now(UTC).isoformat()
    rows = [
        {
            "tenant_id": "acme",
            "lead_id": r.pop("lead_id"),
            "snapshot_at": now,
            "fields_json": json.dumps({k: (None if v != v else v) for k, v in r.items()}),
        }
        for r in frame.to_dict("records")
    ]
    for start in range(0, len(rows), 1000):
        client.insert_rows_json(
            f"{settings.project_id}.crm_ai.open_leads", rows[start : start + 1000]
        )
    t0 = time.perf_counter()
    run = score_open_leads(
        TenantStore(FirestoreStore.from_settings(settings), "acme"), client, "crm_ai"
    )
    print(
        f"  batch scoring through BigQuery (emulator): {run['scored']:,} leads in {time.perf_counter() - t0:.1f} s"
    )
    client.close()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
