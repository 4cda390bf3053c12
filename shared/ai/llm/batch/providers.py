"""The providers' batch interfaces behind one seam: submit many requests, poll, read results.

- OpenAI Batch: a JSONL file of ``/v1/chat/completions`` bodies uploaded with purpose
  ``batch``, a batch over it, then the output and error files.
- Anthropic Message Batches: the request list inline, then the results JSONL.

Both reuse the online adapter's request building and response parsing, so a batched answer is
the same :class:`~shared.ai.llm.types.LLMResponse` an online call gives. Gemini's batch mode is in
``gemini``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from typing_extensions import override

from shared.ai.llm.errors import FailureKind, ProviderError
from shared.ai.llm.providers import anthropic_provider, openai_provider

if TYPE_CHECKING:
    from shared.ai.llm.batch.gemini import BigQueryTables
    from shared.ai.llm.providers.base import Provider
    from shared.ai.llm.types import LLMRequest, LLMResponse

BatchState = Literal["running", "ended", "failed", "expired", "cancelled"]


@dataclass(frozen=True)
class BatchStatus:
    """A provider batch's state, with the provider's detail when it failed or expired."""

    state: BatchState
    detail: str = ""


class BatchProvider(Protocol):
    """A provider's batch interface: half the price of online calls for work that can wait up to a
    day."""

    name: str

    def submit(self, model: str, items: list[tuple[str, LLMRequest]]) -> str:
        """Send the items as one provider batch; returns its id.

        Raises:
            ProviderError: the provider refused or could not be reached.
        """
        ...

    def status(self, batch_id: str) -> BatchStatus:
        """Where the batch is: running, done, failed or expired."""
        ...

    def results(
        self, batch_id: str, model: str, requests: dict[str, LLMRequest]
    ) -> dict[str, LLMResponse | str]:
        """Each finished item's response, or the reason it failed (missing ids did not finish)."""
        ...

    def cancel(self, batch_id: str) -> None:
        """Stop the batch; items that did not finish are then retried online or reported."""
        ...


def sdk_failure(provider: str, exc: Exception) -> ProviderError:
    """An SDK exception from a batch call as a transient :class:`ProviderError`, so the collector
    retries on its next run."""
    return ProviderError(
        f"{provider} batch: {exc}"[:500],
        kind=FailureKind.UNAVAILABLE,
        provider=provider,
        model="batch",
    )


class OpenAIBatches(BatchProvider):
    """OpenAI's Batch API: a JSONL file of Chat Completions requests, results in an output file."""

    name = "openai"

    def __init__(self, provider: openai_provider.OpenAIProvider) -> None:
        self._provider = provider

    @override
    def submit(self, model: str, items: list[tuple[str, LLMRequest]]) -> str:
        import openai

        lines = [
            json.dumps(
                {
                    "custom_id": custom_id,
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": openai_provider.request_params(model, request),
                }
            )
            for custom_id, request in items
        ]
        client = self._provider._get()
        try:
            uploaded = client.files.create(
                file=("batch.jsonl", "\n".join(lines).encode()), purpose="batch"
            )
            batch = client.batches.create(
                input_file_id=uploaded.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
            )
        except openai.OpenAIError as exc:
            raise sdk_failure(self.name, exc) from exc
        return batch.id

    @override
    def status(self, batch_id: str) -> BatchStatus:
        import openai

        try:
            batch = self._provider._get().batches.retrieve(batch_id)
        except openai.OpenAIError as exc:
            raise sdk_failure(self.name, exc) from exc
        states: dict[str, BatchState] = {
            "completed": "ended",
            "failed": "failed",
            "expired": "expired",
            "cancelled": "cancelled",
        }
        return BatchStatus(states.get(batch.status, "running"), batch.status)

    @override
    def results(
        self, batch_id: str, model: str, requests: dict[str, LLMRequest]
    ) -> dict[str, LLMResponse | str]:
        import openai
        from openai.types.chat import ChatCompletion

        client = self._provider._get()
        out: dict[str, LLMResponse | str] = {}
        try:
            batch = client.batches.retrieve(batch_id)
            files = [f for f in (batch.output_file_id, batch.error_file_id) if f]
            texts = [client.files.content(f).text for f in files]
        except openai.OpenAIError as exc:
            raise sdk_failure(self.name, exc) from exc
        for text in texts:
            for line in text.splitlines():
                if not line.strip():
                    continue
                row = json.loads(line)
                custom_id = row.get("custom_id")
                if custom_id not in requests:
                    continue
                response = row.get("response") or {}
                if row.get("error") or response.get("status_code") != 200:
                    reason = row.get("error") or response.get("body", {}).get("error") or response
                    out[custom_id] = f"provider error: {json.dumps(reason)[:300]}"
                    continue
                raw = ChatCompletion.model_validate(response["body"])
                try:
                    out[custom_id] = self._provider.to_response(
                        model, requests[custom_id], raw, 0.0
                    )
                except ProviderError as exc:
                    out[custom_id] = exc.message
        return out

    @override
    def cancel(self, batch_id: str) -> None:
        import openai

        try:
            self._provider._get().batches.cancel(batch_id)
        except openai.OpenAIError as exc:
            raise sdk_failure(self.name, exc) from exc


class AnthropicBatches(BatchProvider):
    """Anthropic's Message Batches API: Messages requests by custom id, results streamed back."""

    name = "anthropic"

    def __init__(self, provider: anthropic_provider.AnthropicProvider) -> None:
        self._provider = provider

    @override
    def submit(self, model: str, items: list[tuple[str, LLMRequest]]) -> str:
        import anthropic

        requests = [
            {"custom_id": custom_id, "params": anthropic_provider.request_params(model, request)}
            for custom_id, request in items
        ]
        try:
            batch = self._provider._get().messages.batches.create(requests=requests)  # type: ignore[arg-type]
        except anthropic.AnthropicError as exc:
            raise sdk_failure(self.name, exc) from exc
        return batch.id

    @override
    def status(self, batch_id: str) -> BatchStatus:
        import anthropic

        try:
            batch = self._provider._get().messages.batches.retrieve(batch_id)
        except anthropic.AnthropicError as exc:
            raise sdk_failure(self.name, exc) from exc
        return BatchStatus(
            "ended" if batch.processing_status == "ended" else "running", batch.processing_status
        )

    @override
    def results(
        self, batch_id: str, model: str, requests: dict[str, LLMRequest]
    ) -> dict[str, LLMResponse | str]:
        import anthropic

        out: dict[str, LLMResponse | str] = {}
        try:
            for row in self._provider._get().messages.batches.results(batch_id):
                if row.custom_id not in requests:
                    continue
                result = row.result
                if result.type == "succeeded":
                    out[row.custom_id] = self._provider.to_response(
                        model, requests[row.custom_id], result.message, 0.0
                    )
                elif result.type == "errored":
                    out[row.custom_id] = f"provider error: {result.error.error.message[:300]}"
                else:
                    out[row.custom_id] = f"provider {result.type} the request"
        except anthropic.AnthropicError as exc:
            raise sdk_failure(self.name, exc) from exc
        return out

    @override
    def cancel(self, batch_id: str) -> None:
        import anthropic

        try:
            self._provider._get().messages.batches.cancel(batch_id)
        except anthropic.AnthropicError as exc:
            raise sdk_failure(self.name, exc) from exc


def batch_providers(
    providers: dict[str, Provider], tables: BigQueryTables | None = None
) -> dict[str, BatchProvider]:
    """The batch interface of each configured provider that has one we support; ``tables`` is
    where Gemini on Vertex AI exchanges requests and answers (BigQuery)."""
    out: dict[str, BatchProvider] = {}
    openai_p = providers.get("openai")
    if isinstance(openai_p, openai_provider.OpenAIProvider):
        out["openai"] = OpenAIBatches(openai_p)
    anthropic_p = providers.get("anthropic")
    if isinstance(anthropic_p, anthropic_provider.AnthropicProvider):
        out["anthropic"] = AnthropicBatches(anthropic_p)
    from shared.ai.llm.providers.gemini_provider import GeminiProvider

    gemini_p = providers.get("gemini")
    if isinstance(gemini_p, GeminiProvider):
        from shared.ai.llm.batch.gemini import GeminiBatches

        out["gemini"] = GeminiBatches(gemini_p, tables)
    return out
