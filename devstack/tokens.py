"""Development signing keys and tokens: the local stand-in for the CRM's identity provider."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PRIVATE = "jwt-private.pem"
PUBLIC = "jwt-public.pem"
KEY_ID = "dev"


def ensure_keypair(state_dir: Path) -> tuple[Path, Path]:
    """An RS256 key pair under ``state_dir``, created on first use and then reused."""
    state_dir.mkdir(parents=True, exist_ok=True)
    private, public = state_dir / PRIVATE, state_dir / PUBLIC
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
    return jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": KEY_ID})
