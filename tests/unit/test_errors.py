from __future__ import annotations

from shared.core.errors import InProgress, InvalidInput, NotFound, TenantMismatch, TransientError


def test_errors_carry_status_retryability_and_field() -> None:
    err = InvalidInput("email: must contain '@'", field="payload.email")
    assert err.status_code == 400 and not err.retryable
    assert err.to_dict() == {
        "code": "invalid_input",
        "message": "email: must contain '@'",
        "field": "payload.email",
    }
    assert TransientError("x").retryable and TransientError("x").status_code == 503
    assert InProgress("x").retryable
    assert NotFound("x").status_code == 404
    assert TenantMismatch("x").status_code == 403
