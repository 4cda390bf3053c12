"""Tenant isolation: tenant-scoped storage, repositories and security events."""

from shared.core.tenancy.repository import TenantRepository
from shared.core.tenancy.scope import TenantStore, tenant_for
from shared.core.tenancy.security import SECURITY_EVENTS, record_security_event

__all__ = [
    "SECURITY_EVENTS",
    "TenantRepository",
    "TenantStore",
    "record_security_event",
    "tenant_for",
]
