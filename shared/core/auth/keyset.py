"""The identity provider's signing keys (a JWKS), fetched over HTTP and cached with care.

- The set is kept for its lifespan (the response's ``Cache-Control: max-age``, else 5 minutes,
  at most a day), then fetched again: a key the provider withdrew stops being trusted then
  (issue 15, M2: PyJWT's key cache never expired).
- A token naming a key id the set lacks may mean the provider rotated keys: the set is fetched
  again, but at most once a minute. In between such tokens are refused without a fetch, so a flood
  of junk tokens neither ties up workers on HTTP calls nor hammers the provider (M1).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt

from shared.core.errors import Unauthenticated
from shared.core.log import get_logger

_log = get_logger("auth.keyset")
DEFAULT_LIFESPAN_S = 300.0
MAX_LIFESPAN_S = 86_400.0
MIN_REFETCH_S = 60.0
Fetch = Callable[[str], tuple[dict[str, Any], float | None]]  # url -> (JWKS, max-age or None)


def _http_fetch(url: str) -> tuple[dict[str, Any], float | None]:
    import requests

    response = requests.get(url, timeout=5)
    response.raise_for_status()
    found = re.search(r"max-age=(\d+)", response.headers.get("Cache-Control", ""))
    body: dict[str, Any] = response.json()
    return body, float(found.group(1)) if found else None


class KeySet:
    """Signing keys by key id, for :class:`~shared.core.auth.tokens.TokenVerifier`."""

    def __init__(
        self,
        url: str,
        *,
        fetch: Fetch = _http_fetch,
        clock: Callable[[], float] = time.monotonic,
        min_refetch_s: float = MIN_REFETCH_S,
    ) -> None:
        self._url = url
        self._fetch = fetch
        self._clock = clock
        self._min_refetch = min_refetch_s
        self._keys: dict[str, Any] = {}
        self._expires = float("-inf")
        self._fetched = float("-inf")
        self._lock = threading.Lock()
        self.fetches = 0  # how many times the set was fetched (for tests and metrics)

    def key_for(self, token: str) -> Any:
        """The public key that signed ``token``, by its ``kid``.

        Raises:
            Unauthenticated: no ``kid``, or one the provider's current set does not hold.
        """
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"token is invalid: {exc}") from exc
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("token is invalid: it names no signing key (kid)")
        with self._lock:
            now = self._clock()
            if now >= self._expires:
                self._refresh(now)
            elif kid not in self._keys and now - self._fetched >= self._min_refetch:
                self._refresh(now)  # perhaps the provider rotated its keys
            key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("token is invalid: unknown signing key")
        return key

    def _refresh(self, now: float) -> None:
        try:
            body, max_age = self._fetch(self._url)
        except Exception as exc:
            # Not on every request while the provider is down: again in a minute.
            self._fetched, self._expires = now, now + self._min_refetch
            if not self._keys:
                raise Unauthenticated("signing keys could not be fetched; try again") from exc
            # Keep serving the keys we have until they can be fetched again; said, not silent.
            _log.warning("signing keys could not be fetched (%s); serving the keys held", exc)
            return
        keys = {}
        for entry in body.get("keys", []):
            if isinstance(entry, dict) and entry.get("kid") and entry.get("kty") == "RSA":
                keys[str(entry["kid"])] = jwt.PyJWK(entry).key
        self._keys = keys
        self._fetched = now
        lifespan = max_age if max_age is not None else DEFAULT_LIFESPAN_S
        self._expires = now + min(lifespan, MAX_LIFESPAN_S)
        self.fetches += 1


_SHARED: dict[str, KeySet] = {}
_SHARED_LOCK = threading.Lock()


def shared_key_set(url: str) -> KeySet:
    """One key set per JWKS URL in this process: verifiers built per request (the service-call
    path builds one for each call's audience) share its cache instead of fetching again."""
    with _SHARED_LOCK:
        found = _SHARED.get(url)
        if found is None:
            found = _SHARED[url] = KeySet(url)
        return found
