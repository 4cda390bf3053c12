"""Development signing keys and tokens: the local stand-in for the CRM's identity provider."""

from __future__ import annotations

import hashlib
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from collections.abc import Callable

KEY_ID = "dev"


def ensure_keypair(state_dir: Path, prefix: str = "jwt") -> tuple[Path, Path]:
    """An RS256 key pair under ``state_dir`` (``<prefix>-private.pem``, ``<prefix>-public.pem``),
    created on first use and then reused."""
    state_dir.mkdir(parents=True, exist_ok=True)
    private, public = state_dir / f"{prefix}-private.pem", state_dir / f"{prefix}-public.pem"
    if not private.exists() or not public.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        private.chmod(0o600)
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private, public


@lru_cache(maxsize=8)
def _key(private_pem: str) -> rsa.RSAPrivateKey:
    """The key, parsed once: loading a PEM checks the RSA key (about 40 ms of CPU), which made
    every task dispatch and push relay of the local identity cost that much (0.3 ms now)."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("expected an RSA private key")
    return key


def mint_token(
    private_pem: str,
    *,
    tenant_id: str | None,
    roles: list[str],
    subject: str = "dev-user",
    issuer: str = "crm-dev",
    audience: str = "crm-ai",
    ttl_seconds: int = 3600,
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "roles": roles,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if tenant_id is not None:
        claims["tenant_id"] = tenant_id
    return jwt.encode(claims, _key(private_pem), algorithm="RS256", headers={"kid": KEY_ID})


# --- the local stand-in for Google's identity tokens (service-to-service calls) ----------------
GOOGLE_PREFIX = "google-sim"
GOOGLE_KEY_ID = "local-google"


def mint_google_token(
    private_pem: str, *, issuer: str, email: str, audience: str, ttl_seconds: int = 3600
) -> str:
    """An OIDC ID token shaped as Google mints them for a service account (``email``,
    ``email_verified``, ``aud`` the target URL), signed by the local issuer's key."""
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "sub": str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16)),
        "azp": email,
        "email": email,
        "email_verified": True,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, _key(private_pem), algorithm="RS256", headers={"kid": GOOGLE_KEY_ID})


class GoogleTokens:
    """ID tokens for service accounts, each reused for the same account and audience while it has
    more than ``REUSE_UNTIL_S`` left of its ``TTL_S``, as Google's own clients reuse theirs,
    rather than signed (RSA) for every push and every task dispatch (the identity stand-in's CPU
    per workflow run: 0.024 -> 0.021 s, docs/scale.md)."""

    TTL_S = 3600
    REUSE_UNTIL_S = 3000  # a token is reused for its first 10 minutes, then minted again

    def __init__(
        self, private_pem: str, issuer: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._pem, self._issuer, self._clock = private_pem, issuer, clock
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    def token(self, email: str, audience: str) -> str:
        now = self._clock()
        kept = self._tokens.get((email, audience))
        if kept is not None and kept[1] - now > self.REUSE_UNTIL_S:
            return kept[0]
        token = mint_google_token(
            self._pem, issuer=self._issuer, email=email, audience=audience, ttl_seconds=self.TTL_S
        )
        self._tokens[(email, audience)] = (token, now + self.TTL_S)
        return token


def jwks(public_pem: bytes, key_id: str = GOOGLE_KEY_ID) -> dict[str, object]:
    """The public key as a JWKS, the shape of https://www.googleapis.com/oauth2/v3/certs."""
    import json

    from jwt.algorithms import RSAAlgorithm

    key = serialization.load_pem_public_key(public_pem)
    jwk: dict[str, object] = json.loads(RSAAlgorithm.to_jwk(key))  # type: ignore[arg-type]
    return {"keys": [{**jwk, "kid": key_id, "use": "sig", "alg": "RS256"}]}
