"""/admin/api/oauth-clients: OAuth clients created, rotated and revoked over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Path, status
from pydantic import BaseModel, ConfigDict, Field

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
from rosterd.api.v2.schemas import iso_timestamp
from rosterd.auth.scopes import ALL_SCOPES
from rosterd.models import OAuthClient
from rosterd.services import clients

router = api_router(prefix=f"{PREFIX}/oauth-clients", tags=["Admin"])
ClientId = Annotated[str, Path(max_length=64, description="The client's client_id.")]


class ClientCreate(CredentialCreate):
    scopes: list[str] = Field(
        min_length=1, max_length=len(ALL_SCOPES), description=f"Of: {' '.join(ALL_SCOPES)}."
    )
    grant_types: list[str] | None = Field(
        default=None,
        max_length=len(clients.GRANT_TYPES),
        alias="grantTypes",
        description=f"Of: {' '.join(clients.GRANT_TYPES)}. Default: client_credentials.",
    )
    redirect_uris: list[str] = Field(
        default_factory=list,
        max_length=20,
        alias="redirectUris",
        description="The authorization code grant's redirect URIs, matched exactly.",
    )
    public: bool = Field(
        default=False,
        description="A public client: no secret (authorization code with PKCE only).",
    )


class ClientRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace: int = Field(
        default=int(clients.DEFAULT_ROTATION_GRACE.total_seconds()),
        ge=0,
        le=int(clients.LONGEST_ROTATION_GRACE.total_seconds()),
        alias="graceSeconds",
        description="How long the previous secret keeps working, in seconds (0: not at all). "
        "Default: a day.",
    )


class ClientOut(CredentialOut):
    clientId: str  # noqa: N815
    scopes: list[str]
    grantTypes: list[str]  # noqa: N815
    redirectUris: list[str]  # noqa: N815
    public: bool
    previousSecretExpiresAt: str | None = None  # noqa: N815

    @classmethod
    def of(cls, client: OAuthClient) -> ClientOut:
        return cls(
            clientId=client.client_id,
            scopes=list(client.scopes),
            grantTypes=list(client.grant_types),
            redirectUris=list(client.redirect_uris),
            public=client.is_public,
            previousSecretExpiresAt=iso_timestamp(client.previous_secret_expires_at),
            **credential_fields(client),
        )


class ClientIssued(ClientOut):
    clientSecret: str | None = None  # noqa: N815 (a public client has none)


class ClientList(BaseModel):
    items: list[ClientOut]


@router.post(
    "",
    operation_id="createOAuthClient",
    summary="Create an OAuth client (its secret is shown once)",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientIssued,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403),
)
def create(
    body: ClientCreate, actor: Admin, session: WriteSession, runtime: RuntimeDep
) -> ClientIssued:
    issued = clients.create_client(
        session,
        tenant_of(session, actor),
        name=body.name,
        scopes=body.scopes,
        hmac_key=runtime.hmac_key,
        actor=actor,
        expires_at=body.expires_at,
        grant_types=body.grant_types,
        redirect_uris=body.redirect_uris,
        public=body.public,
    )
    return ClientIssued(
        **ClientOut.of(issued.client).model_dump(), clientSecret=issued.client_secret
    )


@router.get(
    "",
    operation_id="listOAuthClients",
    summary="List OAuth clients (never their secrets)",
    response_model=ClientList,
    response_model_exclude_none=True,
    responses=errors(401, 403),
)
def list_clients(actor: Admin, session: ReadSession) -> ClientList:
    records = clients.list_clients(session, tenant_of(session, actor))
    return ClientList(items=[ClientOut.of(c) for c in records])


@router.post(
    "/{client_id}/rotate",
    operation_id="rotateOAuthClientSecret",
    summary="Issue a new client secret (shown once); the old one works for the grace period",
    response_model=ClientIssued,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404, 409),
)
def rotate(
    client_id: ClientId,
    actor: Admin,
    session: WriteSession,
    runtime: RuntimeDep,
    body: ClientRotate | None = None,
) -> ClientIssued:
    issued = clients.rotate_secret(
        session,
        tenant_of(session, actor),
        client_id,
        hmac_key=runtime.hmac_key,
        actor=actor,
        grace=timedelta(seconds=(body or ClientRotate()).grace),
    )
    return ClientIssued(
        **ClientOut.of(issued.client).model_dump(), clientSecret=issued.client_secret
    )


@router.delete(
    "/{client_id}",
    operation_id="revokeOAuthClient",
    summary="Revoke an OAuth client: no new tokens, and its tokens stop working within seconds",
    response_model=ClientOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def revoke(client_id: ClientId, actor: Admin, session: WriteSession) -> ClientOut:
    return ClientOut.of(clients.revoke_client(session, tenant_of(session, actor), client_id, actor))
