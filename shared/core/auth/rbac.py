"""Roles and permissions: the one permission matrix of the product.

Users carry CRM roles (viewer < rep < manager < admin, each inheriting the one before); our own
service identities carry ``service:*`` roles and are granted only what their trigger needs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from shared.core.errors import PermissionDenied

if TYPE_CHECKING:
    from shared.core.auth.principal import Principal


class Role(StrEnum):
    """The roles a CRM user or one of our service identities holds; each grants a set of
    permissions."""

    VIEWER = "viewer"
    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"
    SERVICE_PUBSUB = "service:pubsub"
    SERVICE_TASKS = "service:tasks"
    SERVICE_SCHEDULER = "service:scheduler"


class Permission(StrEnum):
    """What a route or socket needs: one permission per kind of action, so roles can change without
    touching handlers."""

    CRM_READ = "crm:read"
    SCORES_READ = "scores:read"
    SCORES_RUN = "scores:run"
    MODELS_MANAGE = "models:manage"
    WORKFLOWS_READ = "workflows:read"
    WORKFLOWS_RUN = "workflows:run"
    WORKFLOWS_DECIDE = "workflows:decide"
    WORKFLOWS_CONFIGURE = "workflows:configure"  # which CRM events start which workflows
    WORKFLOWS_MANAGE = "workflows:manage"  # decide on or cancel runs other people started
    INSIGHTS_READ = "insights:read"
    INSIGHTS_GENERATE = "insights:generate"
    KNOWLEDGE_MANAGE = "knowledge:manage"
    PROMPTS_MANAGE = "prompts:manage"
    USAGE_READ = "usage:read"
    EVENTS_INGEST = "events:ingest"
    TASKS_RUN = "tasks:run"
    BATCH_RUN = "batch:run"
    BATCH_SUBMIT = "batch:submit"  # start background LLM jobs (bulk drafts, explanations)
    BUDGETS_MANAGE = "budgets:manage"


_VIEWER = {
    Permission.CRM_READ,
    Permission.SCORES_READ,
    Permission.WORKFLOWS_READ,
    Permission.INSIGHTS_READ,
}
_REP = _VIEWER | {
    Permission.SCORES_RUN,
    Permission.WORKFLOWS_RUN,
    Permission.WORKFLOWS_DECIDE,
    Permission.INSIGHTS_GENERATE,
}
_MANAGER = _REP | {
    Permission.USAGE_READ,
    Permission.MODELS_MANAGE,
    Permission.BATCH_SUBMIT,
    Permission.WORKFLOWS_MANAGE,
}
_ADMIN = _MANAGER | {
    Permission.WORKFLOWS_CONFIGURE,
    Permission.KNOWLEDGE_MANAGE,
    Permission.PROMPTS_MANAGE,
    Permission.BUDGETS_MANAGE,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset(_VIEWER),
    Role.REP: frozenset(_REP),
    Role.MANAGER: frozenset(_MANAGER),
    Role.ADMIN: frozenset(_ADMIN),
    Role.SERVICE_PUBSUB: frozenset({Permission.EVENTS_INGEST}),
    Role.SERVICE_TASKS: frozenset({Permission.TASKS_RUN}),
    Role.SERVICE_SCHEDULER: frozenset({Permission.BATCH_RUN}),
}

USER_ROLES = frozenset({Role.VIEWER, Role.REP, Role.MANAGER, Role.ADMIN})
KNOWN_ROLES = frozenset(r.value for r in Role)


def permissions_of(roles: frozenset[str]) -> frozenset[Permission]:
    """All permissions granted by ``roles``; unknown role names grant nothing."""
    granted: set[Permission] = set()
    for name in roles:
        if name in KNOWN_ROLES:
            granted |= ROLE_PERMISSIONS[Role(name)]
    return frozenset(granted)


def has_permission(principal: Principal, permission: Permission) -> bool:
    """Whether any of the principal's roles grants ``permission``."""
    return permission in permissions_of(principal.roles)


def require(principal: Principal, permission: Permission) -> None:
    """Raise unless ``principal`` holds ``permission``.

    Raises:
        PermissionDenied: naming the missing permission and the caller's roles.
    """
    if not has_permission(principal, permission):
        roles = ", ".join(sorted(principal.roles)) or "none"
        raise PermissionDenied(
            f"permission {permission.value!r} is required; your roles ({roles}) do not grant it",
            permission=permission.value,
        )
