from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from devstack.tokens import ensure_keypair, mint_token
from shared.core.auth.tokens import TokenVerifier
from shared.core.errors import Unauthenticated

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import TokenFactory


@pytest.fixture
def verifier(keys: tuple[Path, Path]) -> TokenVerifier:
    return TokenVerifier(issuer="crm-dev", audience="crm-ai", public_key_pem=keys[1].read_text())


def test_a_valid_token_yields_the_principal(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    principal = verifier.verify("Bearer " + make_token("acme", ["rep"], subject="u1"))
    assert principal.tenant_id == "acme"
    assert principal.subject == "u1"
    assert principal.roles == frozenset({"rep"})
    assert not principal.is_service


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing Authorization"),
        ("Basic abc", "Bearer"),
        ("Bearer not-a-jwt", "invalid"),
    ],
)
def test_malformed_headers_are_refused(
    verifier: TokenVerifier, header: str | None, reason: str
) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        verifier.verify(header)


def test_expired_wrong_audience_and_issuer(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify("Bearer " + make_token(ttl_seconds=-120))
    with pytest.raises(Unauthenticated, match="audience"):
        verifier.verify("Bearer " + make_token(audience="other"))
    with pytest.raises(Unauthenticated, match="issuer"):
        verifier.verify("Bearer " + make_token(issuer="evil"))


def test_a_token_signed_by_another_key_is_refused(verifier: TokenVerifier, tmp_path: Path) -> None:
    other_private, _ = ensure_keypair(tmp_path)
    token = mint_token(other_private.read_text(), tenant_id="acme", roles=["admin"])
    with pytest.raises(Unauthenticated, match="invalid"):
        verifier.verify("Bearer " + token)


def test_claims_are_checked(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    with pytest.raises(Unauthenticated, match="tenant_id"):
        verifier.verify("Bearer " + make_token(None, ["viewer"]))
    with pytest.raises(Unauthenticated, match="unknown roles: root"):
        verifier.verify("Bearer " + make_token("acme", ["root"]))


@pytest.mark.parametrize("role", ["service:tasks", "service:scheduler", "service:pubsub"])
@pytest.mark.parametrize("tenant", [None, "acme"])
def test_a_user_token_never_carries_a_service_role(
    verifier: TokenVerifier, make_token: TokenFactory, role: str, tenant: str | None
) -> None:
    """Service roles come only from our infrastructure's Google-signed tokens: a CRM token
    claiming one (it would unlock scheduled jobs and task slices) is refused (issue 15, M3)."""
    with pytest.raises(Unauthenticated, match="service roles"):
        verifier.verify("Bearer " + make_token(tenant, ["admin", role]))


def test_keys_can_come_from_a_jwks_url(jwks_url: str, keys: tuple[Path, Path]) -> None:
    verifier = TokenVerifier(issuer="crm-dev", audience="crm-ai", jwks_url=jwks_url)
    token = mint_token(keys[0].read_text(), tenant_id="acme", roles=["manager"])
    assert verifier.verify("Bearer " + token).roles == frozenset({"manager"})
