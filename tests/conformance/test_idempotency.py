from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from shared.core.errors import Conflict, InProgress, PayloadMismatch
from shared.core.idempotency import IdempotencyStore, Replayed, Started
from shared.core.tenancy import TenantStore

if TYPE_CHECKING:
    from shared.core.store import DocumentStore


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def idem(backend: DocumentStore, clock: Clock) -> IdempotencyStore:
    return IdempotencyStore(
        TenantStore(backend, "acme"), lock_ttl=timedelta(seconds=30), clock=clock
    )


def test_first_call_starts_and_completion_replays(idem: IdempotencyStore) -> None:
    begun = idem.begin("k1", "h1")
    assert isinstance(begun, Started)
    idem.complete("k1", begun.token, {"run_id": "r1"})
    assert idem.begin("k1", "h1") == Replayed({"run_id": "r1"})


def test_a_concurrent_duplicate_is_in_progress(idem: IdempotencyStore) -> None:
    assert isinstance(idem.begin("k1", "h1"), Started)
    with pytest.raises(InProgress) as info:
        idem.begin("k1", "h1")
    assert info.value.retryable


def test_a_different_payload_is_an_error(idem: IdempotencyStore) -> None:
    begun = idem.begin("k1", "h1")
    with pytest.raises(PayloadMismatch):
        idem.begin("k1", "h2")
    assert isinstance(begun, Started)
    idem.complete("k1", begun.token, None)
    with pytest.raises(PayloadMismatch):
        idem.begin("k1", "h2")


def test_an_expired_lock_can_be_taken_over_and_the_old_holder_loses(
    idem: IdempotencyStore, clock: Clock
) -> None:
    first = idem.begin("k1", "h1")
    clock.now += timedelta(seconds=31)
    second = idem.begin("k1", "h1")
    assert isinstance(first, Started) and isinstance(second, Started)
    with pytest.raises(Conflict):
        idem.complete("k1", first.token, "late")
    idem.complete("k1", second.token, "ok")
    assert idem.begin("k1", "h1") == Replayed("ok")


def test_release_lets_a_retry_start_at_once(idem: IdempotencyStore) -> None:
    begun = idem.begin("k1", "h1")
    assert isinstance(begun, Started)
    idem.release("k1", begun.token)
    assert isinstance(idem.begin("k1", "h1"), Started)


def test_keys_are_tenant_scoped(backend: DocumentStore, clock: Clock) -> None:
    acme = IdempotencyStore(TenantStore(backend, "acme"), clock=clock)
    globex = IdempotencyStore(TenantStore(backend, "globex"), clock=clock)
    begun = acme.begin("same-key", "h1")
    assert isinstance(begun, Started)
    acme.complete("same-key", begun.token, 1)
    assert isinstance(globex.begin("same-key", "other-hash"), Started)
