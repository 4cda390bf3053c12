"""Tenant-scoped access to the document store.

Everything a tenant owns lives under ``tenants/{tenant_id}/...``. A :class:`TenantStore` is bound
to one tenant and can only build paths inside that prefix; any attempt to reach another tenant's
path is refused with :class:`~shared.core.errors.TenantMismatch`, logged as a security event and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from shared.core.errors import TenantMismatch
from shared.core.store.base import check_segment, join_path
from shared.core.tenancy.security import CROSS_TENANT, record_security_event

if TYPE_CHECKING:
    from shared.core.auth.principal import Principal
    from shared.core.store.base import Document, DocumentStore, Filter, Transaction

T = TypeVar("T")
TENANTS = "tenants"


def tenant_for(principal: Principal, requested_tenant: str | None = None) -> str:
    """The tenant a request acts for: the token's, and only the token's.

    Raises:
        TenantMismatch: the request names another tenant (for example an ``X-Tenant-ID`` header)
            than its token carries; logged as a security event.
    """
    own = principal.tenant_id
    if own is None:
        raise TenantMismatch("this identity is not bound to a tenant", field="tenant_id")
    if requested_tenant is not None and requested_tenant != own:
        record_security_event(
            CROSS_TENANT,
            "request named another tenant than its token",
            tenant_id=own,
            attempted_tenant=requested_tenant,
            subject=principal.subject,
        )
        raise TenantMismatch("this token may not act for the requested tenant", field="tenant_id")
    return own


class _TenantTransaction:
    def __init__(self, scope: TenantStore, tx: Transaction) -> None:
        self._scope = scope
        self._tx = tx

    def get(self, path: str) -> Document | None:
        return self._tx.get(self._scope.check(path))

    def set(self, path: str, data: Document) -> None:
        self._tx.set(self._scope.check(path), data)

    def delete(self, path: str) -> None:
        self._tx.delete(self._scope.check(path))


class TenantStore:
    """A document store seen through one tenant's prefix."""

    def __init__(self, store: DocumentStore, tenant_id: str) -> None:
        self._store = store
        self.tenant_id = check_segment(tenant_id, field="tenant_id")
        self.root = f"{TENANTS}/{self.tenant_id}"

    def path(self, *segments: str) -> str:
        """``tenants/{tenant}/`` followed by ``segments``, each checked as a single segment."""
        return f"{self.root}/{join_path(*segments)}" if segments else self.root

    def check(self, path: str) -> str:
        """Return ``path`` if it lies inside this tenant, else refuse it as a cross-tenant attempt."""
        parts = path.split("/")
        if len(parts) < 2 or parts[0] != TENANTS or parts[1] != self.tenant_id:
            attempted = parts[1] if len(parts) > 1 and parts[0] == TENANTS else None
            record_security_event(
                CROSS_TENANT,
                "repository refused a path outside the caller's tenant",
                tenant_id=self.tenant_id,
                attempted_tenant=attempted,
                path=path,
            )
            raise TenantMismatch("that record belongs to another tenant", field="tenant_id")
        join_path(*parts)
        return path

    def get(self, path: str) -> Document | None:
        """:meth:`DocumentStore.get`, refused outside this tenant."""
        return self._store.get(self.check(path))

    def get_many(self, paths: Sequence[str]) -> list[Document | None]:
        """:meth:`DocumentStore.get_many`, refused outside this tenant."""
        return self._store.get_many([self.check(p) for p in paths])

    def set(self, path: str, data: Document) -> None:
        """:meth:`DocumentStore.set`, refused outside this tenant."""
        self._store.set(self.check(path), data)

    def set_many(self, items: Sequence[tuple[str, Document]]) -> None:
        """:meth:`DocumentStore.set_many`, refused outside this tenant."""
        self._store.set_many([(self.check(path), data) for path, data in items])

    def create(self, path: str, data: Document) -> bool:
        """:meth:`DocumentStore.create`, refused outside this tenant."""
        return self._store.create(self.check(path), data)

    def delete(self, path: str) -> None:
        """:meth:`DocumentStore.delete`, refused outside this tenant."""
        self._store.delete(self.check(path))

    def get_versioned(self, path: str) -> tuple[Document | None, Any]:
        """:meth:`DocumentStore.get_versioned`, refused outside this tenant."""
        return self._store.get_versioned(self.check(path))

    def set_if(self, path: str, data: Document, version: Any) -> bool:
        """:meth:`DocumentStore.set_if`, refused outside this tenant."""
        return self._store.set_if(self.check(path), data, version)

    def commit(
        self, writes: Sequence[tuple[str, Document | None]], expect: Mapping[str, Any]
    ) -> list[Any] | None:
        """:meth:`DocumentStore.commit`, refused outside this tenant."""
        return self._store.commit(
            [(self.check(path), data) for path, data in writes],
            {self.check(path): version for path, version in expect.items()},
        )

    def increment(self, path: str, deltas: Mapping[tuple[str, ...], float]) -> None:
        """:meth:`DocumentStore.increment`, refused outside this tenant."""
        self._store.increment(self.check(path), deltas)

    def run_transaction(self, fn: Callable[[Any], T]) -> T:
        """:meth:`DocumentStore.run_transaction` with a transaction that refuses paths outside this
        tenant."""
        return self._store.run_transaction(lambda tx: fn(_TenantTransaction(self, tx)))

    def scoped(self, tx: Transaction) -> Transaction:
        """``tx`` (a transaction of the underlying store) seen through this tenant."""
        return tx if isinstance(tx, _TenantTransaction) else _TenantTransaction(self, tx)

    def nearest(
        self,
        collection: str,
        *,
        field: str,
        vector: list[float],
        limit: int,
        where: Sequence[Filter] = (),
    ) -> list[tuple[str, Document, float]]:
        """:meth:`DocumentStore.nearest` over a collection of this tenant."""
        return self._store.nearest(
            self.check(collection), field=field, vector=vector, limit=limit, where=where
        )

    def query(
        self,
        collection: str,
        *,
        where: Sequence[Filter] = (),
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]:
        """:meth:`DocumentStore.query` over a collection of this tenant."""
        return self._store.query(
            self.check(collection),
            where=where,
            order_by=order_by,
            descending=descending,
            limit=limit,
        )
