"""The identity provider's keys: a flood of unknown key ids fetches the set at most once a minute
(issue 15, M1), and a withdrawn key stops being trusted when the set's lifespan ends (M2)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.tokens import ensure_keypair
from shared.core.auth.keyset import KeySet
from shared.core.auth.tokens import TokenVerifier
from shared.core.errors import Unauthenticated

if TYPE_CHECKING:
    from pathlib import Path


def _jwk(public_pem: bytes, kid: str) -> dict[str, Any]:
    public = serialization.load_pem_public_key(public_pem)
    assert isinstance(public, rsa.RSAPublicKey)
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public)), "kid": kid, "alg": "RS256"}


def _token(private_pem: str, kid: str) -> str:
    claims = {"iss": "crm-dev", "aud": "crm-ai", "sub": "u", "exp": 4_000_000_000}
    claims |= {"tenant_id": "acme", "roles": ["rep"]}
    return jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": kid})


class Provider:
    """A JWKS endpoint whose keys the test changes, counting fetches."""

    def __init__(self, keys: list[dict[str, Any]], max_age: float | None = 300) -> None:
        self.keys, self.max_age, self.fetches = keys, max_age, 0

    def __call__(self, url: str) -> tuple[dict[str, Any], float | None]:
        self.fetches += 1
        return {"keys": list(self.keys)}, self.max_age


@pytest.fixture
def setup(keys: tuple[Path, Path], tmp_path: Path) -> Any:
    other_private, other_public = ensure_keypair(tmp_path)
    provider = Provider([_jwk(keys[1].read_bytes(), "k1")])
    now = [1000.0]
    keyset = KeySet("https://idp.example/certs", fetch=provider, clock=lambda: now[0])
    verifier = TokenVerifier(issuer="crm-dev", audience="crm-ai", jwks_url="https://unused")
    verifier._jwks = keyset  # the verifier's own key set, fed by the fake provider
    return verifier, provider, now, keys[0].read_text(), other_private.read_text(), other_public


def test_a_flood_of_unknown_key_ids_fetches_at_most_once_a_minute(setup: Any) -> None:
    verifier, provider, now, private, *_ = setup
    assert verifier.verify("Bearer " + _token(private, "k1")).tenant_id == "acme"
    assert provider.fetches == 1
    for n in range(500):
        with pytest.raises(Unauthenticated, match="unknown signing key"):
            verifier.verify("Bearer " + _token(private, f"junk-{n}"))
    assert provider.fetches == 1  # the first minute after a fetch: refused without fetching
    now[0] += 61
    for n in range(500):
        with pytest.raises(Unauthenticated):
            verifier.verify("Bearer " + _token(private, f"junk-{n}"))
    assert provider.fetches == 2  # one refetch for a possible rotation, then refused again


def test_a_rotated_in_key_is_accepted_and_a_withdrawn_one_refused(setup: Any) -> None:
    verifier, provider, now, private, other_private, other_public = setup
    verifier.verify("Bearer " + _token(private, "k1"))
    provider.keys = [_jwk(other_public.read_bytes(), "k2")]  # the provider rotated
    now[0] += 61
    assert verifier.verify("Bearer " + _token(other_private, "k2")).subject == "u"
    with pytest.raises(Unauthenticated):
        verifier.verify("Bearer " + _token(private, "k1"))  # withdrawn: no longer in the set


def test_a_withdrawn_key_expires_with_the_sets_lifespan(setup: Any) -> None:
    verifier, provider, now, private, *_ = setup
    verifier.verify("Bearer " + _token(private, "k1"))
    provider.keys = []
    now[0] += 200  # within max-age: still the cached set
    assert verifier.verify("Bearer " + _token(private, "k1")).tenant_id == "acme"
    now[0] += 101  # past max-age (300 s): fetched again, the key is gone
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verifier.verify("Bearer " + _token(private, "k1"))


def test_a_token_without_a_key_id_is_refused_without_a_fetch(setup: Any) -> None:
    verifier, provider, _, private, *_ = setup
    token = jwt.encode({"sub": "u"}, private, algorithm="RS256")
    with pytest.raises(Unauthenticated, match="kid"):
        verifier.verify("Bearer " + token)
    assert provider.fetches == 0


def test_verifiers_of_one_process_share_the_key_set() -> None:
    """The service-call path builds a verifier per call: they must not each fetch the keys."""
    from shared.core.auth.keyset import shared_key_set
    from shared.core.auth.service import ServiceTokenVerifier

    url = "https://www.googleapis.com/oauth2/v3/certs-test-shared"
    first = ServiceTokenVerifier(audience="https://a", identities={}, jwks_url=url)
    second = ServiceTokenVerifier(audience="https://b", identities={}, jwks_url=url)
    assert first._keys is second._keys is shared_key_set(url)


def test_a_provider_outage_keeps_the_known_keys_and_does_not_hammer(setup: Any) -> None:
    verifier, _, now, private, *_ = setup
    verifier.verify("Bearer " + _token(private, "k1"))
    calls = {"n": 0}

    def down(url: str) -> Any:
        calls["n"] += 1
        raise ConnectionError("identity provider unreachable")

    verifier._jwks._fetch = down
    now[0] += 301  # the set expired while the provider is down
    for _ in range(50):
        assert verifier.verify("Bearer " + _token(private, "k1")).tenant_id == "acme"
    assert calls["n"] == 1  # one attempt, then again only after a minute
    now[0] += 61
    verifier.verify("Bearer " + _token(private, "k1"))
    assert calls["n"] == 2
