"""Authentication (JWT) and authorisation (roles and permissions)."""

from shared.core.auth.principal import Principal
from shared.core.auth.rbac import Permission, Role, has_permission, require
from shared.core.auth.service import ServiceTokenVerifier
from shared.core.auth.tokens import TokenVerifier

__all__ = [
    "Permission",
    "Principal",
    "Role",
    "ServiceTokenVerifier",
    "TokenVerifier",
    "has_permission",
    "require",
]
