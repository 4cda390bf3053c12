"""Tenant isolation: tenant-scoped storage, repositories and security events."""

from shared.tenancy.repository import TenantRepository
from shared.tenancy.scope import TenantStore, tenant_for
from shared.tenancy.security import SECURITY_EVENTS, record_security_event

__all__ = [
    "SECURITY_EVENTS",
    "TenantRepository",
    "TenantStore",
    "record_security_event",
    "tenant_for",
]
