"""Authentication (JWT) and authorisation (roles and permissions)."""

from shared.auth.principal import Principal
from shared.auth.rbac import Permission, Role, has_permission, require
from shared.auth.service import ServiceTokenVerifier
from shared.auth.tokens import TokenVerifier

__all__ = [
    "Permission",
    "Principal",
    "Role",
    "ServiceTokenVerifier",
    "TokenVerifier",
    "has_permission",
    "require",
]
