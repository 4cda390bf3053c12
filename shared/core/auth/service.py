"""Verification of the OIDC tokens Google attaches to Pub/Sub pushes and Cloud Tasks requests.

Those tokens are Google-signed JWTs (issuer ``https://accounts.google.com``) whose ``email`` claim
names the service account that sent them and whose ``aud`` is the target URL. A known service
account maps to one ``service:*`` role; any other identity is refused. Cloud Run IAM already
limits who may invoke a unit; this check is the second line of defence and tells the handler
*which* of our identities is calling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jwt

from shared.core.auth.keyset import shared_key_set
from shared.core.auth.principal import Principal
from shared.core.errors import Unauthenticated

if TYPE_CHECKING:
    from shared.core.auth.rbac import Role
    from shared.core.config import Settings

GOOGLE_ISSUERS = ["https://accounts.google.com", "accounts.google.com"]
GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"


class ServiceTokenVerifier:
    """Checks Google-signed OIDC tokens of our own infrastructure (Pub/Sub push, Cloud Tasks, Cloud
    Scheduler): issuer, audience and the expected service account."""

    def __init__(
        self,
        *,
        audience: str | list[str],
        identities: dict[str, Role],
        jwks_url: str = GOOGLE_JWKS_URL,
        issuers: list[str] | None = None,
    ) -> None:
        """
        Args:
            audience: the URL the token must be minted for (the unit's own URL).
            identities: service-account email => the role it acts with.
            jwks_url: where the signing keys are published (Google's, or a test server's).
            issuers: accepted ``iss`` values (Google's by default).
        """
        self._audience = audience
        self._identities = identities
        self._issuers = issuers or GOOGLE_ISSUERS
        # Shared by every verifier of this process (one is built per service call).
        self._keys = shared_key_set(jwks_url)

    def verify(self, authorization: str | None) -> Principal:
        """Verify an ``Authorization: Bearer`` header carrying a Google OIDC token.

        Raises:
            Unauthenticated: missing, invalid, expired, wrong audience, unverified email, or an
                identity that is not one of ours.
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("missing service identity token (expected 'Bearer <OIDC token>')")
        key = self._keys.key_for(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self._audience,
                issuer=self._issuers,
                options={"require": ["exp", "iss", "aud", "email"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"service identity token is invalid: {exc}") from exc
        email = str(claims["email"])
        if claims.get("email_verified") is not True:
            raise Unauthenticated("service identity email is not verified")
        role = self._identities.get(email)
        if role is None:
            raise Unauthenticated(f"{email} is not one of this system's service identities")
        return Principal(
            subject=email, tenant_id=None, roles=frozenset({role.value}), is_service=True
        )


def verify_service_call(
    authorization: str | None,
    settings: Settings,
    *,
    account: str | None,
    role: Role,
    account_setting: str,
) -> Principal:
    """Our own infrastructure's OIDC token (Pub/Sub push, Cloud Tasks, Cloud Scheduler): signed
    by Google (locally by devstack/identity.py, through this same code), minted for this unit's
    ``SERVICE_AUDIENCE`` (with or without the trailing slash), for the one service account that
    maps to ``role``.

    Raises:
        Unauthenticated: no token, or not that identity's token for this unit.
        ConfigError: the unit lacks ``SERVICE_AUDIENCE`` or ``account_setting`` (terraform/units.json).
    """
    from shared.core.config import ENV_SERVICE_AUDIENCE
    from shared.core.errors import ConfigError

    if not settings.service_audience:
        raise ConfigError(f"{ENV_SERVICE_AUDIENCE} is not set for this unit (terraform/units.json)")
    if not account:
        raise ConfigError(f"{account_setting} is not set for this unit (terraform/units.json)")
    base = settings.service_audience.rstrip("/")
    verifier = ServiceTokenVerifier(
        audience=[base, f"{base}/"],
        identities={account: role},
        jwks_url=settings.service_jwks_url,
        issuers=[settings.service_token_issuer] if settings.service_token_issuer else None,
    )
    return verifier.verify(authorization)
