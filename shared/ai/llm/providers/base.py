"""The provider seam: one interface, three adapters over the official SDKs (imported lazily)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from typing_extensions import override

from shared.ai.llm.errors import FailureKind, ProviderError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from shared.ai.llm.types import LLMRequest, LLMResponse, StreamChunk

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
    """One LLM provider behind the router: a call, a streamed call, and closing its connections.
    Failures are normalised to :class:`ProviderError` so the router treats providers alike."""

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
    """The wait a provider asked for (``retry-after-ms`` or ``retry-after``), in seconds."""
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
    """The :class:`FailureKind` of an HTTP status and message (a 400 about context length fails over
    to a larger model)."""
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
    """A provider's HTTP error as a :class:`ProviderError` with its kind and the wait it asked
    for."""
    return ProviderError(
        f"{provider}/{model}: {status} {message}"[:500],
        kind=kind_for_status(status, message),
        provider=provider,
        model=model,
        retry_after=retry_after_seconds(headers),
        status=status,
    )


C = TypeVar("C")


class SdkProvider(Provider, Generic[C]):
    """What every adapter shares: a lazily built SDK client, closing it, and failure helpers."""

    name: str

    def __init__(self, client: C | None = None) -> None:
        self._client = client
        self._lock = threading.Lock()

    def _build(self) -> C:
        raise NotImplementedError

    def _get(self) -> C:
        with self._lock:
            if self._client is None:
                self._client = self._build()
            return self._client

    @override
    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()  # type: ignore[attr-defined]
                self._client = None

    def _fail(self, model: str, kind: FailureKind, message: str) -> ProviderError:
        return ProviderError(
            f"{self.name}/{model}: {message}"[:500], kind=kind, provider=self.name, model=model
        )

    def _structured(self, model: str, text: str) -> dict[str, Any]:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._fail(
                model, FailureKind.BAD_RESPONSE, "structured output is not JSON"
            ) from exc
        if not isinstance(value, dict):
            raise self._fail(
                model, FailureKind.BAD_RESPONSE, "structured output is not a JSON object"
            )
        return value

    def _stainless_error(self, model: str, exc: Exception, sdk: Any) -> ProviderError:
        """Map an error of the OpenAI or Anthropic SDK (both generated by Stainless, same classes)."""
        if isinstance(exc, sdk.APIStatusError):
            return failure(
                self.name, model, exc.status_code, str(exc.message), exc.response.headers
            )
        if isinstance(exc, sdk.APITimeoutError):
            return self._fail(model, FailureKind.TIMEOUT, "timeout")
        if isinstance(exc, sdk.APIConnectionError):
            return self._fail(model, FailureKind.UNAVAILABLE, str(exc))
        return self._fail(model, FailureKind.BAD_RESPONSE, f"bad response: {exc}")
