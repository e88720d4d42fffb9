"""/admin/api/scim-tokens: SCIM tokens managed over HTTP with an OAuth `admin` token."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from rosterd.api.deps import ReadSession, RuntimeDep, WriteSession
from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.api.routing import api_router
from rosterd.api.v2.auth import require
from rosterd.api.v2.paging import errors
from rosterd.api.v2.schemas import iso_timestamp
from rosterd.auth.scopes import Scope
from rosterd.models import ScimToken, Tenant
from rosterd.repositories import tenants as tenants_repo
from rosterd.services import scim_tokens
from rosterd.services.context import Actor
from rosterd.services.errors import NotFound

PREFIX = "/admin/api"

router = api_router(prefix=f"{PREFIX}/scim-tokens", tags=["Admin"])
Admin = Annotated[Actor, Depends(rate_limited(require(Scope.admin, surface="admin")))]


class ScimTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)


class ScimTokenOut(BaseModel):
    id: str
    name: str
    createdAt: str  # noqa: N815
    lastUsedAt: str | None = None  # noqa: N815
    revokedAt: str | None = None  # noqa: N815

    @classmethod
    def of(cls, record: ScimToken) -> ScimTokenOut:
        return cls(
            id=str(record.id),
            name=record.name,
            createdAt=iso_timestamp(record.created_at) or "",
            lastUsedAt=iso_timestamp(record.last_used_at),
            revokedAt=iso_timestamp(record.revoked_at),
        )


class ScimTokenIssued(ScimTokenOut):
    token: str


class ScimTokenList(BaseModel):
    items: list[ScimTokenOut]


def _tenant(session: Session, actor: Actor) -> Tenant:
    tenant = tenants_repo.get(session, actor.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant


@router.post(
    "",
    operation_id="createScimToken",
    summary="Issue a SCIM token (shown once)",
    status_code=status.HTTP_201_CREATED,
    response_model=ScimTokenIssued,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403),
)
def create(
    body: ScimTokenCreate, actor: Admin, session: WriteSession, runtime: RuntimeDep
) -> ScimTokenIssued:
    issued = scim_tokens.create_token(
        session, _tenant(session, actor), name=body.name, hmac_key=runtime.hmac_key, actor=actor
    )
    return ScimTokenIssued(**ScimTokenOut.of(issued.record).model_dump(), token=issued.token)


@router.get(
    "",
    operation_id="listScimTokens",
    summary="List SCIM tokens (never the tokens themselves)",
    response_model=ScimTokenList,
    response_model_exclude_none=True,
    responses=errors(401, 403),
)
def list_tokens(actor: Admin, session: ReadSession) -> ScimTokenList:
    records = scim_tokens.list_tokens(session, _tenant(session, actor))
    return ScimTokenList(items=[ScimTokenOut.of(r) for r in records])


@router.delete(
    "/{token_id}",
    operation_id="revokeScimToken",
    summary="Revoke a SCIM token",
    response_model=ScimTokenOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def revoke(token_id: uuid.UUID, actor: Admin, session: WriteSession) -> ScimTokenOut:
    record = scim_tokens.revoke_token(session, _tenant(session, actor), token_id, actor)
    return ScimTokenOut.of(record)
