"""Gemini's batch interface through ``google-genai`` (``client.batches``), at half the online
price, in the two forms Google offers:

- Gemini API: the requests travel inline in the create call and the answers come back inline on
  the finished batch, keyed by each request's metadata.
- Vertex AI batch prediction: the requests go into a BigQuery table (``custom_id``, ``request``:
  a ``GenerateContentRequest`` as JSON), the job reads it and writes a table with the input
  columns plus ``response`` and ``status`` (empty when the request succeeded). Both tables live in
  the product's dataset and expire after a week; the functions' identity writes and reads them,
  Vertex AI's service agent reads and writes them for the job (Terraform grants both).

Requests and answers reuse the online adapter (``GeminiProvider``), so a batched answer is the
same :class:`~shared.ai.llm.types.LLMResponse` an online call gives.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from shared.ai.llm.batch.providers import BatchProvider, BatchState, BatchStatus, sdk_failure
from shared.ai.llm.errors import ProviderError

if TYPE_CHECKING:
    from collections.abc import Callable

    from google.cloud import bigquery

    from shared.ai.llm.providers.gemini_provider import GeminiProvider
    from shared.ai.llm.types import LLMRequest, LLMResponse

_STATES: dict[str, BatchState] = {
    "JOB_STATE_SUCCEEDED": "ended",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_EXPIRED": "expired",
    "JOB_STATE_CANCELLED": "cancelled",
}


@dataclass(frozen=True)
class BigQueryTables:
    """Where Vertex AI batch prediction reads its requests and writes its answers."""

    client: Callable[[], bigquery.Client]
    project: str
    dataset: str
    keep: timedelta = timedelta(days=7)

    def uri(self, table: str) -> str:
        """The ``bq://project.dataset.table`` URI that Vertex AI batch prediction reads and
        writes."""
        return f"bq://{self.project}.{self.dataset}.{table}"


class GeminiBatches(BatchProvider):
    """Vertex AI batch prediction for Gemini models: items go in through a BigQuery table and
    results come back through another."""

    name = "gemini"

    def __init__(self, provider: GeminiProvider, tables: BigQueryTables | None = None) -> None:
        self._provider = provider
        self._tables = tables

    @override
    def submit(self, model: str, items: list[tuple[str, LLMRequest]]) -> str:
        from google.genai import types

        if self._provider._get().vertexai:
            return self._submit_vertex(model, items)

        inlined = [
            types.InlinedRequest(
                contents=self._provider._contents(request),
                config=self._provider._config(request, None),
                metadata={"key": custom_id},
            )
            for custom_id, request in items
        ]
        try:
            job = self._provider._get().batches.create(
                model=model,
                src=inlined,
                config=types.CreateBatchJobConfig(display_name=f"crm-ai-{items[0][0]}"),
            )
        except Exception as exc:  # the SDK's APIError and transport errors alike
            raise sdk_failure(self.name, exc) from exc
        if not job.name:
            raise sdk_failure(self.name, ValueError("the batch came back without a name"))
        return job.name

    def _job(self, batch_id: str) -> Any:
        try:
            return self._provider._get().batches.get(name=batch_id)
        except Exception as exc:  # the SDK's APIError and transport errors alike
            raise sdk_failure(self.name, exc) from exc

    @override
    def status(self, batch_id: str) -> BatchStatus:
        job = self._job(batch_id)
        state = str(getattr(job.state, "value", job.state) or "")
        return BatchStatus(_STATES.get(state, "running"), state)

    @override
    def results(
        self, batch_id: str, model: str, requests: dict[str, LLMRequest]
    ) -> dict[str, LLMResponse | str]:
        job = self._job(batch_id)
        if self._provider._get().vertexai:
            return self._vertex_results(job, model, requests)
        out: dict[str, LLMResponse | str] = {}
        for row in (job.dest.inlined_responses if job.dest else None) or []:
            custom_id = (row.metadata or {}).get("key")
            if custom_id not in requests:
                continue
            if row.error is not None or row.response is None:
                message = row.error.message if row.error is not None else "no response"
                out[custom_id] = f"provider error: {str(message)[:300]}"
                continue
            try:
                out[custom_id] = self._provider.to_response(
                    model, requests[custom_id], row.response, 0.0
                )
            except ProviderError as exc:
                out[custom_id] = exc.message
        return out

    @override
    def cancel(self, batch_id: str) -> None:
        try:
            self._provider._get().batches.cancel(name=batch_id)
        except Exception as exc:  # the SDK's APIError and transport errors alike
            raise sdk_failure(self.name, exc) from exc

    # --- Vertex AI batch prediction over BigQuery ---------------------------------------------
    def _bigquery(self) -> BigQueryTables:
        if self._tables is None:
            raise sdk_failure(
                self.name, ValueError("Vertex AI batch prediction needs a BigQuery dataset")
            )
        return self._tables

    def _submit_vertex(self, model: str, items: list[tuple[str, LLMRequest]]) -> str:
        from google.cloud import bigquery
        from google.genai import types

        tables = self._bigquery()
        stem = f"llm_batch_{datetime.now(UTC):%Y%m%d}_{uuid.uuid4().hex[:12]}"
        table_id = f"{tables.project}.{tables.dataset}.{stem}_in"
        rows = [
            {"custom_id": custom_id, "request": json.dumps(self._rest_request(request))}
            for custom_id, request in items
        ]
        client = tables.client()
        try:
            table = bigquery.Table(
                table_id,
                schema=[
                    bigquery.SchemaField("custom_id", "STRING", mode="REQUIRED"),
                    bigquery.SchemaField("request", "JSON", mode="REQUIRED"),
                ],
            )
            table.expires = datetime.now(UTC) + tables.keep
            client.create_table(table)
            errors = client.insert_rows_json(table_id, rows)
            if errors:
                raise ValueError(f"BigQuery refused rows: {str(errors)[:300]}")
            job = self._provider._get().batches.create(
                model=model,
                src=tables.uri(f"{stem}_in"),
                config=types.CreateBatchJobConfig(
                    display_name=stem, dest=tables.uri(f"{stem}_out")
                ),
            )
        except Exception as exc:  # BigQuery's and the SDK's errors alike: the items run online
            raise sdk_failure(self.name, exc) from exc
        finally:
            client.close()  # type: ignore[no-untyped-call]
        if not job.name:
            raise sdk_failure(self.name, ValueError("the batch came back without a name"))
        return job.name

    def _rest_request(self, request: LLMRequest) -> dict[str, Any]:
        """The request as Vertex AI's REST ``GenerateContentRequest`` (camelCase JSON)."""
        body: dict[str, Any] = {
            "contents": [
                c.model_dump(mode="json", by_alias=True, exclude_none=True)
                for c in self._provider._contents(request)
            ],
            "generationConfig": {
                "temperature": request.temperature,
                "maxOutputTokens": request.max_tokens,
            },
        }
        if request.system:
            body["systemInstruction"] = {"role": "user", "parts": [{"text": request.system}]}
        if request.tools:
            body["tools"] = [
                {
                    "functionDeclarations": [
                        {
                            "name": t.name,
                            "description": t.description,
                            "parametersJsonSchema": t.parameters,
                        }
                        for t in request.tools
                    ]
                }
            ]
        if request.response_schema is not None:
            body["generationConfig"]["responseMimeType"] = "application/json"
            body["generationConfig"]["responseJsonSchema"] = request.response_schema
        return body

    def _vertex_results(
        self, job: Any, model: str, requests: dict[str, LLMRequest]
    ) -> dict[str, LLMResponse | str]:
        from google.genai import types

        uri = job.dest.bigquery_uri if job.dest else None
        state = str(getattr(job.state, "value", job.state) or "")
        if not uri or state not in ("JOB_STATE_SUCCEEDED", "JOB_STATE_CANCELLED"):
            return {}  # a failed or expired job wrote no answers: its items run online
        tables = self._bigquery()
        client = tables.client()
        try:
            rows = list(
                client.query(
                    f"SELECT custom_id, TO_JSON_STRING(response) AS response, status "  # noqa: S608 - our own table name
                    f"FROM `{uri.removeprefix('bq://')}`"
                ).result()
            )
        except Exception as exc:  # BigQuery's errors: the collector tries again later
            raise sdk_failure(self.name, exc) from exc
        finally:
            client.close()  # type: ignore[no-untyped-call]
        out: dict[str, LLMResponse | str] = {}
        for row in rows:
            custom_id = row["custom_id"]
            if custom_id not in requests:
                continue
            raw = json.loads(row["response"]) if row["response"] else None
            if isinstance(raw, str):  # a JSON column read back as a JSON string
                raw = json.loads(raw)
            if row["status"] or not raw:
                out[custom_id] = f"provider error: {str(row['status'] or 'no response')[:300]}"
                continue
            try:
                response = types.GenerateContentResponse.model_validate(raw)
                out[custom_id] = self._provider.to_response(
                    model, requests[custom_id], response, 0.0
                )
            except ProviderError as exc:
                out[custom_id] = exc.message
            except ValueError as exc:
                out[custom_id] = f"provider error: unreadable response: {str(exc)[:200]}"
        return out
