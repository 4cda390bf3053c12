"""Service identity tokens, verified against signing keys fetched from a JWKS endpoint."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import jwt
import pytest

from shared.core.auth import Role, ServiceTokenVerifier
from shared.core.errors import Unauthenticated

if TYPE_CHECKING:
    from pathlib import Path

AUDIENCE = "https://workflow-runner.example.run.app/run"
RUNNER = "tasks-invoker@proj.iam.gserviceaccount.com"


def _token(keys: tuple[Path, Path], **claims: Any) -> str:
    now = int(time.time())
    base = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": RUNNER,
        "email_verified": True,
        "sub": "1234",
        "iat": now,
        "exp": now + 300,
    }
    return jwt.encode(
        {**base, **claims}, keys[0].read_text(), algorithm="RS256", headers={"kid": "dev"}
    )


@pytest.fixture
def verifier(jwks_url: str) -> ServiceTokenVerifier:
    return ServiceTokenVerifier(
        audience=AUDIENCE, identities={RUNNER: Role.SERVICE_TASKS}, jwks_url=jwks_url
    )


def test_a_known_service_account_gets_its_role(
    verifier: ServiceTokenVerifier, keys: tuple[Path, Path]
) -> None:
    principal = verifier.verify("Bearer " + _token(keys))
    assert principal.is_service and principal.roles == frozenset({"service:tasks"})
    assert principal.subject == RUNNER and principal.tenant_id is None


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"email": "someone@evil.example"}, "not one of"),
        ({"email_verified": False}, "not verified"),
        ({"aud": "https://other.example/run"}, "invalid"),
        ({"iss": "https://evil.example"}, "invalid"),
        ({"exp": int(time.time()) - 600}, "invalid"),
    ],
)
def test_other_tokens_are_refused(
    verifier: ServiceTokenVerifier, keys: tuple[Path, Path], claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        verifier.verify("Bearer " + _token(keys, **claims))
    with pytest.raises(Unauthenticated, match="missing"):
        verifier.verify(None)
