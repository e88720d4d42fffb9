"""What the admin API's modules share: the path, the `admin` scope, the tenant, the error
format (REST v2's envelope) and the fields every credential shows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.api.v2.auth import require
from rosterd.api.v2.errors import renderer
from rosterd.api.v2.schemas import iso_timestamp
from rosterd.api.wire import field_table
from rosterd.auth.scopes import Scope
from rosterd.models import OAuthClient, Tenant
from rosterd.models.credential import TenantSecret
from rosterd.repositories import tenants as tenants_repo
from rosterd.services.context import Actor
from rosterd.services.errors import NotFound

PREFIX = "/admin/api"

# Rate-limited like every other surface, per credential and per tenant.
Admin = Annotated[Actor, Depends(rate_limited(require(Scope.admin, surface="admin")))]


def tenant_of(session: Session, actor: Actor) -> Tenant:
    """The tenant the admin token belongs to."""
    tenant = tenants_repo.get(session, actor.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant


class CredentialCreate(BaseModel):
    """What every new credential is given: a label, and optionally an end."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    expires_at: AwareDatetime | None = Field(
        default=None,
        alias="expiresAt",
        description="When the credential stops working (ISO 8601 with a time zone). "
        "Unset: it never expires.",
    )


# OAuth client rotation's grace period is the one field outside CredentialCreate.
render = renderer(field_table(CredentialCreate, grace="graceSeconds"))


def credential_fields(record: OAuthClient | TenantSecret) -> dict[str, Any]:
    """The fields every credential lists with: never its secret or hash."""
    return {
        "name": record.name,
        "createdAt": iso_timestamp(record.created_at) or "",
        "expiresAt": iso_timestamp(record.expires_at),
        "lastUsedAt": iso_timestamp(record.last_used_at),
        "revokedAt": iso_timestamp(record.revoked_at),
    }


class CredentialOut(BaseModel):
    name: str
    createdAt: str  # noqa: N815
    expiresAt: str | None = None  # noqa: N815
    lastUsedAt: str | None = None  # noqa: N815
    revokedAt: str | None = None  # noqa: N815
