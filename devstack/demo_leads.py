"""Generated leads with a known signal: demo history for scripts/up and fixtures for the tests."""

from __future__ import annotations

from typing import Any


def make_leads(n: int = 3000, seed: int = 3, labelled: float = 0.95) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    source = rng.choice(
        ["webinar", "website", "referral", "cold_call", "Select"], n, p=[0.2, 0.35, 0.15, 0.2, 0.1]
    )
    employees = rng.lognormal(4, 1.2, n).round()
    employees[rng.random(n) < 0.1] = np.nan
    pricing = rng.choice(["yes", "no"], n, p=[0.3, 0.7])
    minutes = rng.gamma(2, 6, n).round(1)
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    country = rng.choice([f"C{i:03d}" for i in range(120)], n)
    logit = _logit(source, employees, pricing, minutes)
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    outcome = np.where(won, "Converted", "Lost").astype(object)
    outcome[rng.random(n) > labelled] = ""  # open leads: no outcome yet
    notes = [
        f"Spoke with the team about {'pricing and contract terms' if p == 'yes' else 'a general product overview'} #{i}"
        for i, p in enumerate(pricing)
    ]
    return pd.DataFrame(
        {
            "lead_id": [f"lead-{i}" for i in range(n)],
            "source": source,
            "employees": employees,
            "visited_pricing": pricing,
            "minutes_on_site": minutes,
            "created": created.strftime("%Y-%m-%d"),
            "country": country,
            "notes": notes,
            "call_duration": np.where(
                won, rng.normal(600, 100, n), rng.normal(120, 60, n)
            ).round(),  # known after
            "final_stage": np.where(won, "closed_won", "closed_lost"),  # recorded with the outcome
            "status": outcome,
        }
    )


def _logit(source: Any, employees: Any, pricing: Any, minutes: Any) -> Any:
    import numpy as np

    return (
        -3.2
        + 1.4 * (pricing == "yes")
        + 0.06 * minutes
        + 0.9 * (source == "referral")
        - 0.8 * (source == "cold_call")
        + 0.3 * np.log1p(np.nan_to_num(employees, nan=30))
    )


def true_logit(frame: Any) -> Any:
    """The log-odds the data was generated with: the best any model can do."""
    return _logit(
        frame["source"].to_numpy(),
        frame["employees"].to_numpy(),
        frame["visited_pricing"].to_numpy(),
        frame["minutes_on_site"].to_numpy(),
    )


def write_history(store: Any, tenant: str, n: int, *, seed: int = 5) -> Any:
    """Write ``n`` generated leads (90 % won or lost, the rest open) into a tenant's read model in
    bulk, as an import of historic CRM data would; returns the generated frame."""
    from datetime import UTC, datetime, timedelta

    frame = make_leads(n, seed=seed, labelled=0.9)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    docs = []
    for i, row in enumerate(frame.to_dict("records")):
        status = {"Converted": "converted", "Lost": "lost"}.get(row["status"], "open")
        docs.append(
            (
                f"tenants/{tenant}/leads/{row['lead_id']}",
                {
                    "id": row["lead_id"],
                    "tenant_id": tenant,
                    "status": status,
                    "source": row["source"],
                    "employees": None if row["employees"] != row["employees"] else row["employees"],
                    "custom_fields": {
                        "visited_pricing": row["visited_pricing"],
                        "minutes_on_site": row["minutes_on_site"],
                        "country": row["country"],
                    },
                    "created_at": start + timedelta(hours=i),
                    "_meta": {"last_event_id": f"import-{i}", "version": 1},
                },
            )
        )
    store.set_many([(f"tenants/{tenant}", {"tenant_id": tenant}), *docs])
    return frame
