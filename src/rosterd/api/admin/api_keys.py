"""/admin/api/api-keys: tenant API keys (user identities, ADMIN x-api-key) over HTTP."""

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
from rosterd.models import ApiKey
from rosterd.services import api_keys, bearer_secrets

router = api_router(prefix=f"{PREFIX}/api-keys", tags=["Admin"])


class ApiKeyOut(CredentialOut):
    id: str

    @classmethod
    def of(cls, record: ApiKey) -> ApiKeyOut:
        return cls(id=str(record.id), **credential_fields(record))


class ApiKeyIssued(ApiKeyOut):
    apiKey: str  # noqa: N815


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


@router.post(
    "",
    operation_id="createApiKey",
    summary="Issue an API key (shown once)",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyIssued,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403),
)
def create(
    body: CredentialCreate, actor: Admin, session: WriteSession, runtime: RuntimeDep
) -> ApiKeyIssued:
    issued = bearer_secrets.create(
        session,
        api_keys.KIND,
        tenant_of(session, actor),
        name=body.name,
        hmac_key=runtime.hmac_key,
        actor=actor,
        expires_at=body.expires_at,
    )
    return ApiKeyIssued(**ApiKeyOut.of(issued.record).model_dump(), apiKey=issued.secret)


@router.get(
    "",
    operation_id="listApiKeys",
    summary="List API keys (never the keys themselves)",
    response_model=ApiKeyList,
    response_model_exclude_none=True,
    responses=errors(401, 403),
)
def list_keys(actor: Admin, session: ReadSession) -> ApiKeyList:
    records = bearer_secrets.list_all(session, api_keys.KIND, tenant_of(session, actor))
    return ApiKeyList(items=[ApiKeyOut.of(r) for r in records])


@router.delete(
    "/{key_id}",
    operation_id="revokeApiKey",
    summary="Revoke an API key",
    response_model=ApiKeyOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def revoke(key_id: uuid.UUID, actor: Admin, session: WriteSession) -> ApiKeyOut:
    record = bearer_secrets.revoke(session, api_keys.KIND, tenant_of(session, actor), key_id, actor)
    return ApiKeyOut.of(record)
