"""The identity stand-in reuses a service account's ID token for one audience while it has most
of its hour left, and mints another after (devstack/tokens.py ``GoogleTokens``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jwt

from devstack.tokens import GOOGLE_PREFIX, GoogleTokens, ensure_keypair

if TYPE_CHECKING:
    from pathlib import Path

EMAIL = "push@demo.iam.gserviceaccount.com"


def test_a_token_is_reused_for_the_same_identity_and_audience_then_minted_again(
    tmp_path: Path,
) -> None:
    private, _ = ensure_keypair(tmp_path, GOOGLE_PREFIX)
    now = [1_000_000.0]
    tokens = GoogleTokens(private.read_text(), "http://issuer", clock=lambda: now[0])
    first = tokens.token(EMAIL, "http://a")
    assert tokens.token(EMAIL, "http://a") == first
    assert tokens.token(EMAIL, "http://b") != first  # another audience, another token
    claims = jwt.decode(first, options={"verify_signature": False})
    assert claims["aud"] == "http://a" and claims["email"] == EMAIL
    now[0] += 3600 - GoogleTokens.REUSE_UNTIL_S - 1
    assert tokens.token(EMAIL, "http://a") == first  # still inside its reuse window
    now[0] += 2
    tokens.token(EMAIL, "http://a")  # past the window: minted again, kept for a new hour
    assert tokens._tokens[(EMAIL, "http://a")][1] == now[0] + 3600
