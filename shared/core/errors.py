"""The root of every error the shared core raises, and its one mapping to the edge (CONVENTIONS 8).

Each error carries what the edge needs: an HTTP ``status_code``, a stable machine ``code``, the
``field`` at fault where there is one, and ``retryable``, which tells an event or task handler to
raise so that Pub/Sub or Cloud Tasks delivers again, rather than rejecting the input for good.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """Base of all domain errors."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The error body every API answer uses: code, message, and the field when one is at
        fault."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class ConfigError(AppError):
    """A required setting is missing or invalid; raised at start-up."""

    code = "config"


class InvalidInput(AppError):
    """The caller sent something we will never accept; names the field and the reason."""

    status_code = 400
    code = "invalid_input"


class Unprocessable(InvalidInput):
    """A request the schema accepts that breaks a rule it cannot state (this template's variables,
    ``from`` after ``to``): named in the message, answered 422 rather than 400."""

    status_code = 422
    code = "unprocessable"


class Unauthenticated(AppError):
    """No valid token (401)."""

    status_code = 401
    code = "unauthenticated"


class PermissionDenied(AppError):
    """A valid caller without the permission, or outside its tenant (403)."""

    status_code = 403
    code = "permission_denied"


class TenantMismatch(PermissionDenied):
    """A caller of one tenant addressed another tenant's data."""

    code = "tenant_mismatch"


class NotFound(AppError):
    """The named record does not exist in this tenant (404, naming the field)."""

    status_code = 404
    code = "not_found"


class PayloadTooLarge(AppError):
    """The request body is larger than the operation accepts."""

    status_code = 413
    code = "payload_too_large"


class MethodNotAllowed(AppError):
    """The path exists but not with this method (405)."""

    status_code = 405
    code = "method_not_allowed"


class Conflict(AppError):
    """The request clashes with the record's current state (409), e.g. a run that is no longer
    waiting."""

    status_code = 409
    code = "conflict"


class PayloadMismatch(AppError):
    """An idempotency key was reused with a different payload."""

    status_code = 422
    code = "idempotency_payload_mismatch"


class InProgress(AppError):
    """The same work is running elsewhere right now; the platform should retry later."""

    status_code = 409
    code = "in_progress"
    retryable = True


class TransientError(AppError):
    """A dependency failed in a way that may pass; raise so the platform retries."""

    status_code = 503
    code = "unavailable"
    retryable = True
