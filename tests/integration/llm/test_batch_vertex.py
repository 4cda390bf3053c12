"""Gemini batch prediction on Vertex AI end to end: google-genai in Vertex mode against the
simulator, requests and answers through tables on the BigQuery emulator, the job and its usage
on the Firestore emulator."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from shared.ai.llm import LLMClient, LLMRequest, Message
from shared.ai.llm.batch.gemini import BigQueryTables
from shared.ai.llm.batch.providers import batch_providers
from shared.ai.llm.batch.service import BatchItem, BatchService, job_id_for
from shared.ai.llm.catalog import Catalog
from shared.ai.llm.ledger import Ledger
from shared.ai.llm.providers.gemini_provider import GeminiProvider
from shared.ai.llm.router import RetryPolicy, Router
from shared.core.bigquery import bigquery_client
from shared.core.config import load_settings
from shared.core.messaging import MemoryPublisher
from shared.core.store.firestore import FirestoreStore
from shared.core.tenancy.scope import TenantStore
from tests.integration.llm.conftest import SleepLog

if TYPE_CHECKING:
    from collections.abc import Iterator

    from devstack.stack import Stack
    from shared.ai.llm.providers.base import Provider

SCHEMA = {
    "type": "object",
    "properties": {"subject": {"type": "string"}, "body": {"type": "string"}},
    "required": ["subject", "body"],
}


def _vertex_gemini(url: str) -> GeminiProvider:
    from google import genai
    from google.genai import types
    from google.oauth2.credentials import Credentials

    client = genai.Client(
        vertexai=True,
        project="demo",
        location="us-central1",
        credentials=Credentials(token="simulated"),  # type: ignore[no-untyped-call]
        http_options=types.HttpOptions(
            base_url=url, retry_options=types.HttpRetryOptions(attempts=1)
        ),
    )
    return GeminiProvider(None, vertex_project="demo", client=client)


@pytest.fixture
def parts(clean_firestore: Stack, simulator_url: str, sim: Any) -> Iterator[dict[str, Any]]:
    settings = load_settings(os.environ)
    sim.post("/_sim/config", json={"bigquery_emulator_host": os.environ["BIGQUERY_EMULATOR_HOST"]})
    store = FirestoreStore.from_settings(settings)
    gemini = _vertex_gemini(simulator_url)
    providers: dict[str, Provider] = {"gemini": gemini}
    router = Router(providers, Catalog.load(), RetryPolicy(timeout_s=5), sleep=SleepLog())
    client = LLMClient(router, ledger=Ledger(store, MemoryPublisher()))
    tables = BigQueryTables(
        lambda: bigquery_client(settings), settings.project_id, settings.bigquery_dataset
    )
    service = BatchService(client, batch_providers(providers, tables))
    yield {"scope": TenantStore(store, "acme"), "service": service, "sim": sim}
    gemini.close()


def _submit(parts: dict[str, Any], n: int) -> dict[str, Any]:
    items = [
        BatchItem(
            ref=f"lead-{i}",
            crm_object=f"lead:lead-{i}",
            request=LLMRequest(
                system="Write a short outreach email.",
                messages=[Message(role="user", content=f"Lead {i} works at Company {i}.")],
                tier="fast",
                response_schema=SCHEMA,
                max_tokens=200,
            ),
        )
        for i in range(n)
    ]
    submitted: dict[str, Any] = (
        parts["service"]
        .submit(
            parts["scope"],
            items,
            feature="workflow",
            deadline=timedelta(hours=24),
            job_id=job_id_for("acme", None),
            submitted_by="user-1",
        )
        .model_dump()
    )
    return submitted


def test_vertex_batch_prediction_reads_and_writes_bigquery_tables(parts: dict[str, Any]) -> None:
    job = _submit(parts, 3)
    [pb] = job["provider_batches"]
    assert pb["provider"] == "gemini" and pb["model"] == "gemini-2.5-flash"
    assert job["counts"] == {"submitted": 3}, job
    done = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert done["state"] == "completed" and done["counts"] == {"done": 3}
    for item in done["items"]:
        result = item["result"]
        assert result["batch"] and result["provider"] == "gemini" and result["schema_valid"]
        assert set(result["structured"]) >= {"subject", "body"}
        assert result["input_tokens"] > 0 and result["cost_usd"] > 0
    usage = [d for _, d in parts["scope"].query("tenants/acme/llm_usage")]
    assert len(usage) == 3 and all(u["batch"] for u in usage)


def test_vertex_item_failures_and_a_failed_job_run_online(parts: dict[str, Any]) -> None:
    parts["sim"].post(
        "/_sim/faults", json={"provider": "gemini", "fault": {"item_errors": 1}, "times": 1}
    )
    job = _submit(parts, 2)
    done = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert done["counts"] == {"done": 2}
    assert sorted(i["result"]["batch"] for i in done["items"]) == [False, True]

    parts["sim"].post(
        "/_sim/faults", json={"provider": "gemini", "fault": {"batch": "expired"}, "times": 1}
    )
    job = _submit(parts, 2)
    done = parts["service"].collect(parts["scope"], job["batch_id"]).model_dump()
    assert done["counts"] == {"done": 2} and done["provider_batches"][0]["state"] == "expired"
    assert not any(i["result"]["batch"] for i in done["items"])
