"""The provider seam: one interface, three adapters over the official SDKs (imported lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from shared.llm.errors import FailureKind, ProviderError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from shared.llm.types import LLMRequest, LLMResponse, StreamChunk

# Sent after the partial text of a broken stream so that any provider continues it (Anthropic
# does it natively with an assistant prefill). The simulator recognises the same sentence.
CONTINUE_INSTRUCTION = (
    "Continue your previous answer exactly where it stopped, without repeating anything."
)
STRUCTURED_TOOL = "structured_output"


@dataclass(frozen=True)
class Endpoint:
    """Where a provider's SDK sends requests: the real API, or the simulator's base URL."""

    api_key: str
    base_url: str | None = None
    simulated: bool = False


class Provider(Protocol):
    name: str

    def complete(self, model: str, request: LLMRequest, *, timeout: float) -> LLMResponse:
        """One non-streamed call.

        Raises:
            ProviderError: normalised failure (kind, retry_after, status).
        """
        ...

    def stream(self, model: str, request: LLMRequest, *, timeout: float) -> Iterator[StreamChunk]:
        """A streamed call: text deltas, then one chunk with usage and finish_reason.

        Raises:
            ProviderError: before or during the stream.
        """
        ...

    def close(self) -> None:
        """Close the SDK client's connections (if one was built)."""
        ...


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            return None
        return seconds / 1000 if name.endswith("-ms") else seconds
    return None


def kind_for_status(status: int, message: str) -> FailureKind:
    text = message.lower()
    if status == 429:
        return FailureKind.RATE_LIMITED
    if status in (401, 403):
        return FailureKind.AUTH
    if status == 400 and ("context" in text or "too long" in text or "exceeds the maximum" in text):
        return FailureKind.CONTEXT_LENGTH
    if status >= 500:
        return FailureKind.UNAVAILABLE
    if status == 408:
        return FailureKind.TIMEOUT
    return FailureKind.INVALID_REQUEST


def failure(
    provider: str, model: str, status: int, message: str, headers: Mapping[str, str] | None = None
) -> ProviderError:
    return ProviderError(
        f"{provider}/{model}: {status} {message}"[:500],
        kind=kind_for_status(status, message),
        provider=provider,
        model=model,
        retry_after=retry_after_seconds(headers),
        status=status,
    )
