"""Gemini's batch interface through ``google-genai`` (``client.batches``), at half the online
price: on the Gemini API the requests travel inline in the create call and the answers come back
inline on the finished batch, keyed by each request's metadata.

Requests and answers reuse the online adapter (``GeminiProvider``), so a batched answer is the
same :class:`~shared.llm.types.LLMResponse` an online call gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.llm.batch.providers import BatchState, BatchStatus, sdk_failure
from shared.llm.errors import ProviderError

if TYPE_CHECKING:
    from shared.llm.providers.gemini_provider import GeminiProvider
    from shared.llm.types import LLMRequest, LLMResponse

_STATES: dict[str, BatchState] = {
    "JOB_STATE_SUCCEEDED": "ended",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_EXPIRED": "expired",
    "JOB_STATE_CANCELLED": "cancelled",
}


class GeminiBatches:
    name = "gemini"

    def __init__(self, provider: GeminiProvider) -> None:
        self._provider = provider

    def submit(self, model: str, items: list[tuple[str, LLMRequest]]) -> str:
        from google.genai import types

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

    def status(self, batch_id: str) -> BatchStatus:
        job = self._job(batch_id)
        state = str(getattr(job.state, "value", job.state) or "")
        return BatchStatus(_STATES.get(state, "running"), state)

    def results(
        self, batch_id: str, model: str, requests: dict[str, LLMRequest]
    ) -> dict[str, LLMResponse | str]:
        job = self._job(batch_id)
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

    def cancel(self, batch_id: str) -> None:
        try:
            self._provider._get().batches.cancel(name=batch_id)
        except Exception as exc:  # the SDK's APIError and transport errors alike
            raise sdk_failure(self.name, exc) from exc
