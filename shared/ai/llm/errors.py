"""Errors of the LLM layer. Provider failures are normalised to one kind each, so routing can
decide (retry, fail over, give up) without knowing which SDK raised them."""

from __future__ import annotations

from enum import StrEnum

from shared.core.errors import AppError


class FailureKind(StrEnum):
    """Why a provider call failed, which decides what the router does next: wait and retry, fail
    over, or give up."""

    RATE_LIMITED = "rate_limited"  # 429: retry after a pause, or fail over
    UNAVAILABLE = "unavailable"  # 5xx, overloaded, connection refused
    TIMEOUT = "timeout"
    CONTEXT_LENGTH = "context_length"  # fail over to a larger-context model
    BAD_RESPONSE = "bad_response"  # invalid JSON, a broken stream
    INVALID_REQUEST = "invalid_request"  # our request is wrong: never retried
    AUTH = "auth"  # bad key: never retried on this provider


RETRYABLE = {
    FailureKind.RATE_LIMITED,
    FailureKind.UNAVAILABLE,
    FailureKind.TIMEOUT,
    FailureKind.BAD_RESPONSE,
}


class LLMError(AppError):
    """The base of every LLM-layer error."""

    code = "llm_error"


class ProviderError(LLMError):
    """One provider call failed; ``kind`` says how."""

    status_code = 502
    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        kind: FailureKind,
        provider: str,
        model: str,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.provider = provider
        self.model = model
        self.retry_after = retry_after
        self.status = status


class AllProvidersFailed(LLMError):
    """Every candidate model failed or is circuit-open; the caller should retry later."""

    status_code = 503
    code = "llm_unavailable"
    retryable = True


class BudgetExceeded(LLMError):
    """The tenant's token or money budget cannot cover this call."""

    status_code = 402
    code = "budget_exceeded"


class PromptRejected(LLMError):
    """A guard blocked the request (prompt injection under a blocking policy)."""

    status_code = 422
    code = "prompt_rejected"


class ContextTooLong(LLMError):
    """Even the largest eligible model cannot take this prompt after trimming."""

    status_code = 413
    code = "context_too_long"
