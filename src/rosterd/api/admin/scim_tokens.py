"""/admin/api/scim-tokens: SCIM tokens managed over HTTP with an OAuth `admin` token."""

from __future__ import annotations

import uuid

from fastapi import status
from pydantic import BaseModel

from rosterd.api.admin.shared import (
    PREFIX,
    Admin,
    CredentialCreate,
    CredentialOut,
    credential_fields,
    tenant_of,
)
from rosterd.api.deps import ReadSession, RuntimeDep, WriteSession
from rosterd.api.routing import api_router
from rosterd.api.v2.paging import errors
from rosterd.models import ScimToken
from rosterd.services import scim_tokens

router = api_router(prefix=f"{PREFIX}/scim-tokens", tags=["Admin"])


class ScimTokenOut(CredentialOut):
    id: str

    @classmethod
    def of(cls, record: ScimToken) -> ScimTokenOut:
        return cls(id=str(record.id), **credential_fields(record))


class ScimTokenIssued(ScimTokenOut):
    token: str


class ScimTokenList(BaseModel):
    items: list[ScimTokenOut]


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
    body: CredentialCreate, actor: Admin, session: WriteSession, runtime: RuntimeDep
) -> ScimTokenIssued:
    issued = scim_tokens.create_token(
        session,
        tenant_of(session, actor),
        name=body.name,
        hmac_key=runtime.hmac_key,
        actor=actor,
        expires_at=body.expires_at,
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
    records = scim_tokens.list_tokens(session, tenant_of(session, actor))
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
    record = scim_tokens.revoke_token(session, tenant_of(session, actor), token_id, actor)
    return ScimTokenOut.of(record)
