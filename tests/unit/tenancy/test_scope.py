from __future__ import annotations

import pytest
from pydantic import BaseModel

from shared.core.auth import Principal
from shared.core.errors import InvalidInput, TenantMismatch
from shared.core.store import MemoryStore
from shared.core.tenancy import SECURITY_EVENTS, TenantStore, tenant_for
from shared.core.tenancy.repository import TenantRepository
from shared.core.tenancy.security import CROSS_TENANT


def test_paths_stay_inside_the_tenant() -> None:
    scope = TenantStore(MemoryStore(), "acme")
    assert scope.path("leads", "l1") == "tenants/acme/leads/l1"
    scope.set(scope.path("leads", "l1"), {"x": 1})
    assert scope.get("tenants/acme/leads/l1") == {"x": 1}


def test_another_tenants_path_is_refused_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    store.set("tenants/globex/leads/l1", {"secret": True})
    scope = TenantStore(store, "acme")
    before = SECURITY_EVENTS[CROSS_TENANT]
    with pytest.raises(TenantMismatch):
        scope.get("tenants/globex/leads/l1")
    with pytest.raises(TenantMismatch):
        scope.run_transaction(lambda tx: tx.get("tenants/globex/leads/l1"))
    with pytest.raises(TenantMismatch):
        scope.query("tenants/globex/leads")
    assert SECURITY_EVENTS[CROSS_TENANT] == before + 3
    assert any(
        getattr(r, "fields", {}).get("security_event") == CROSS_TENANT for r in caplog.records
    )


@pytest.mark.parametrize("bad", ["../globex", "a/b", "", "..", "__x__", "x" * 300])
def test_path_segments_cannot_escape(bad: str) -> None:
    scope = TenantStore(MemoryStore(), "acme")
    with pytest.raises(InvalidInput):
        scope.path("leads", bad)


def test_tenant_for_refuses_a_mismatched_header() -> None:
    principal = Principal(subject="u", tenant_id="acme", roles=frozenset({"viewer"}))
    assert tenant_for(principal) == "acme"
    assert tenant_for(principal, "acme") == "acme"
    before = SECURITY_EVENTS[CROSS_TENANT]
    with pytest.raises(TenantMismatch):
        tenant_for(principal, "globex")
    assert SECURITY_EVENTS[CROSS_TENANT] == before + 1
    service = Principal(
        subject="s", tenant_id=None, roles=frozenset({"service:tasks"}), is_service=True
    )
    with pytest.raises(TenantMismatch):
        tenant_for(service)


class Note(BaseModel):
    text: str


class NoteRepository(TenantRepository[Note]):
    collection = "notes"


def test_typed_repository_round_trip_is_tenant_scoped() -> None:
    store = MemoryStore()
    acme = NoteRepository(TenantStore(store, "acme"), Note)
    globex = NoteRepository(TenantStore(store, "globex"), Note)
    acme.put("n1", Note(text="hi"))
    assert acme.get("n1") == Note(text="hi")
    assert globex.get("n1") is None
    assert [n.text for n in acme.list()] == ["hi"]
    assert globex.list() == []
