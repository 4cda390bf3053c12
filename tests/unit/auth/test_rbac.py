from __future__ import annotations

import pytest

from shared.core.auth import Permission, Principal, require
from shared.core.auth.rbac import ROLE_PERMISSIONS, Role, permissions_of
from shared.core.errors import PermissionDenied


def _user(*roles: str) -> Principal:
    return Principal(subject="u", tenant_id="acme", roles=frozenset(roles))


def test_roles_inherit_upwards() -> None:
    viewer, rep = ROLE_PERMISSIONS[Role.VIEWER], ROLE_PERMISSIONS[Role.REP]
    manager, admin = ROLE_PERMISSIONS[Role.MANAGER], ROLE_PERMISSIONS[Role.ADMIN]
    assert viewer < rep < manager < admin


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("viewer", Permission.CRM_READ, True),
        ("viewer", Permission.WORKFLOWS_RUN, False),
        ("rep", Permission.WORKFLOWS_DECIDE, True),
        ("rep", Permission.USAGE_READ, False),
        ("manager", Permission.USAGE_READ, True),
        ("manager", Permission.KNOWLEDGE_MANAGE, False),
        ("admin", Permission.PROMPTS_MANAGE, True),
        ("service:tasks", Permission.TASKS_RUN, True),
        ("service:tasks", Permission.CRM_READ, False),
        ("service:pubsub", Permission.EVENTS_INGEST, True),
    ],
)
def test_permission_matrix(role: str, permission: Permission, allowed: bool) -> None:
    if allowed:
        require(_user(role), permission)
    else:
        with pytest.raises(PermissionDenied, match=permission.value):
            require(_user(role), permission)


def test_unknown_roles_grant_nothing() -> None:
    assert permissions_of(frozenset({"superuser"})) == frozenset()
