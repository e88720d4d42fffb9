"""SCIM & API access, /admin/access: SCIM tokens, OAuth clients and API keys, each with its
last use. A new secret is shown once, on the page the creating post answers with (never
redirected to, never stored in a form of its own); the list shows no secret ever."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Form, Request, Response
from sqlalchemy.orm import Session

from rosterd.api.admin.shared import tenant_of
from rosterd.api.deps import ReadSession, RuntimeDep, WriteSession
from rosterd.auth.scopes import ALL_SCOPES
from rosterd.console.pages import back_to, page, router
from rosterd.console.session import PREFIX, ConsoleAdmin, FormAdmin, SignedInAdmin
from rosterd.runtime import Runtime
from rosterd.services import api_keys, bearer_secrets, scim_tokens
from rosterd.services import clients as clients_service

PATH = f"{PREFIX}/access"
Name = Annotated[str, Form(max_length=255)]


def _lists(session: Session, admin: ConsoleAdmin) -> dict[str, Any]:
    tenant = tenant_of(session, admin.actor)
    return {
        "scim_tokens": scim_tokens.list_tokens(session, tenant),
        "clients": clients_service.list_clients(session, tenant),
        "api_keys": bearer_secrets.list_all(session, api_keys.KIND, tenant),
        "all_scopes": ALL_SCOPES,
        "grant_types": clients_service.GRANT_TYPES,
    }


def scim_base_url(runtime: Runtime) -> str:
    return runtime.settings.public_url.rstrip("/") + "/scim/v2"


def _page(
    request: Request,
    session: Session,
    admin: ConsoleAdmin,
    runtime: Runtime,
    status_code: int = 200,
    **shown: Any,
) -> Response:
    return page(
        request,
        "access.html",
        admin,
        status_code=status_code,
        scim_base_url=scim_base_url(runtime),
        **_lists(session, admin),
        **shown,
    )


@router.get("/access")
def access_page(
    request: Request, admin: SignedInAdmin, session: ReadSession, runtime: RuntimeDep
) -> Response:
    return _page(request, session, admin, runtime)


@router.post("/access/scim-tokens")
def create_scim_token(
    request: Request, admin: FormAdmin, session: WriteSession, runtime: RuntimeDep, name: Name
) -> Response:
    issued = scim_tokens.create_token(
        session,
        tenant_of(session, admin.actor),
        name=name.strip(),
        hmac_key=runtime.hmac_key,
        actor=admin.actor,
    )
    return _page(request, session, admin, runtime, status_code=201, new_scim_token=issued.token)


@router.post("/access/scim-tokens/{token_id}/revoke")
def revoke_scim_token(token_id: uuid.UUID, admin: FormAdmin, session: WriteSession) -> Response:
    record = scim_tokens.revoke_token(
        session, tenant_of(session, admin.actor), token_id, admin.actor
    )
    return back_to(PATH, notice=f"SCIM token {record.name!r} revoked.")


@router.post("/access/clients")
def create_client(
    request: Request,
    admin: FormAdmin,
    session: WriteSession,
    runtime: RuntimeDep,
    name: Name,
    scope: Annotated[list[str] | None, Form()] = None,
    grant: Annotated[list[str] | None, Form()] = None,
    redirect_uris: Annotated[str, Form(max_length=20000)] = "",
    public: Annotated[bool, Form()] = False,
) -> Response:
    """A new client: by default of the client_credentials grant; with the authorization
    code grant, its redirect URIs (one a line) and, for an app that cannot keep a secret, no
    secret at all (public)."""
    issued = clients_service.create_client(
        session,
        tenant_of(session, admin.actor),
        name=name.strip(),
        scopes=scope or [],
        hmac_key=runtime.hmac_key,
        actor=admin.actor,
        grant_types=grant,
        redirect_uris=[line.strip() for line in redirect_uris.splitlines() if line.strip()],
        public=public,
    )
    return _page(
        request,
        session,
        admin,
        runtime,
        status_code=201,
        new_client=(issued.client.client_id, issued.client_secret),
    )


@router.post("/access/clients/{client_id}/rotate")
def rotate_client(
    request: Request,
    client_id: str,
    admin: FormAdmin,
    session: WriteSession,
    runtime: RuntimeDep,
) -> Response:
    issued = clients_service.rotate_secret(
        session,
        tenant_of(session, admin.actor),
        client_id,
        hmac_key=runtime.hmac_key,
        actor=admin.actor,
    )
    return _page(
        request,
        session,
        admin,
        runtime,
        new_client=(issued.client.client_id, issued.client_secret),
        rotated=True,
    )


@router.post("/access/clients/{client_id}/revoke")
def revoke_client(client_id: str, admin: FormAdmin, session: WriteSession) -> Response:
    client = clients_service.revoke_client(
        session, tenant_of(session, admin.actor), client_id, admin.actor
    )
    return back_to(PATH, notice=f"OAuth client {client.name!r} revoked.")


@router.post("/access/api-keys")
def create_api_key(
    request: Request, admin: FormAdmin, session: WriteSession, runtime: RuntimeDep, name: Name
) -> Response:
    issued = bearer_secrets.create(
        session,
        api_keys.KIND,
        tenant_of(session, admin.actor),
        name=name.strip(),
        hmac_key=runtime.hmac_key,
        actor=admin.actor,
    )
    return _page(request, session, admin, runtime, status_code=201, new_api_key=issued.secret)


@router.post("/access/api-keys/{key_id}/revoke")
def revoke_api_key(key_id: uuid.UUID, admin: FormAdmin, session: WriteSession) -> Response:
    record = bearer_secrets.revoke(
        session, api_keys.KIND, tenant_of(session, admin.actor), key_id, admin.actor
    )
    return back_to(PATH, notice=f"API key {record.name!r} revoked.")
