"""Verification of the bearer JWTs the CRM sends (RS256).

In the cloud the keys come from the identity provider's JWKS URL; locally from a PEM public key
that ``scripts/token`` signs against. Claims: ``tenant_id``, ``sub``, ``roles`` (a list), plus the
usual ``iss``, ``aud``, ``exp``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

from shared.core.auth.keyset import shared_key_set
from shared.core.auth.principal import Principal
from shared.core.auth.rbac import KNOWN_ROLES
from shared.core.errors import ConfigError, Unauthenticated

if TYPE_CHECKING:
    from shared.core.config import Settings

ALGORITHMS = ["RS256"]


class TokenVerifier:
    """Checks signature, issuer, audience and expiry, then maps claims to a :class:`Principal`."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        public_key_pem: str | None = None,
        jwks_url: str | None = None,
        leeway_seconds: int = 30,
    ) -> None:
        if not public_key_pem and not jwks_url:
            raise ConfigError("a token verifier needs a public key or a JWKS URL")
        self._issuer = issuer
        self._audience = audience
        self._public_key = public_key_pem
        self._jwks = shared_key_set(jwks_url) if jwks_url else None
        self._leeway = leeway_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        """The verifier for the configured issuer and audience, with keys from the JWKS URL (the
        cloud) or a PEM file (locally)."""
        pem = None
        if settings.auth_public_key_file:
            path = Path(settings.auth_public_key_file)
            if not path.is_file():
                raise ConfigError(f"AUTH_PUBLIC_KEY_FILE {path} does not exist")
            pem = path.read_text()
        return cls(
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            public_key_pem=pem,
            jwks_url=settings.auth_jwks_url,
        )

    def verify(self, authorization: str | None) -> Principal:
        """Verify an ``Authorization`` header value.

        Raises:
            Unauthenticated: no bearer token, a bad signature, expired, wrong issuer or audience,
                or a missing or malformed claim; the message says which.
        """
        if not authorization:
            raise Unauthenticated("missing Authorization header (expected 'Bearer <JWT>')")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Authorization header must be 'Bearer <JWT>'")
        claims = self._decode(token.strip())
        return _principal_from_claims(claims)

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            key: Any = self._public_key
            if self._jwks is not None:
                key = self._jwks.key_for(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            # The expected issuer and audience are not told to an unauthenticated caller.
            raise Unauthenticated("token audience is not accepted") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated("token issuer is not accepted") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"token lacks the {exc.claim!r} claim") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"token is invalid: {exc}") from exc
        return claims


def _principal_from_claims(claims: dict[str, Any]) -> Principal:
    roles = claims.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthenticated("token claim 'roles' must be a list of role names")
    unknown = sorted(set(roles) - KNOWN_ROLES)
    if unknown:
        raise Unauthenticated(f"token claim 'roles' has unknown roles: {', '.join(unknown)}")
    if any(r.startswith("service:") for r in roles):
        # Service roles belong to our own infrastructure's Google-signed tokens
        # (shared/core/auth/service.py), never to a user token from the CRM (issue 15, M3).
        raise Unauthenticated(
            "token claim 'roles' has service roles, which user tokens may not carry"
        )
    tenant = claims.get("tenant_id")
    if not isinstance(tenant, str) or not tenant.strip():
        raise Unauthenticated("token lacks the 'tenant_id' claim")
    return Principal(
        subject=str(claims["sub"]),
        tenant_id=tenant,
        roles=frozenset(roles),
        is_service=False,
        expires_at=int(claims["exp"]) if isinstance(claims.get("exp"), int | float) else None,
    )
