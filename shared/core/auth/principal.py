"""Who is calling: the authenticated identity every handler works on behalf of."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Principal(BaseModel):
    """An authenticated caller: a CRM user of one tenant, or one of our service identities."""

    model_config = ConfigDict(frozen=True)

    subject: str
    tenant_id: str | None
    roles: frozenset[str]
    is_service: bool = False
    expires_at: int | None = None  # the token's exp (Unix seconds), for long-lived connections
