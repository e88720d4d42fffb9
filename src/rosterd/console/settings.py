"""Tenant settings, /admin/settings: SCIM DELETE behaviour, SSO-only, shared emails."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Form, Request, Response
from sqlalchemy.orm import Session

from rosterd.api.admin.shared import tenant_of
from rosterd.api.deps import ReadSession, RuntimeDep
from rosterd.console.pages import page, router, write_then_back
from rosterd.console.session import PREFIX, FormAdmin, SignedInAdmin
from rosterd.services import tenants as tenants_service


@router.get("/settings")
def settings_page(request: Request, admin: SignedInAdmin, session: ReadSession) -> Response:
    tenant = tenant_of(session, admin.actor)
    return page(
        request,
        "settings.html",
        admin,
        scim_delete_deactivates=tenants_service.scim_delete_deactivates(session, tenant.id),
        sso_only=tenants_service.sso_only(session, tenant.id),
        shared_emails=tenants_service.emails_shared_in(tenant.settings),
    )


@router.post("/settings")
async def save_settings(
    admin: FormAdmin,
    runtime: RuntimeDep,
    scim_delete: Annotated[Literal["delete", "deactivate"], Form()],
    sso_only: Annotated[bool, Form()] = False,
    shared_emails: Annotated[bool, Form()] = False,
) -> Response:
    def save(session: Session) -> None:
        tenants_service.configure_behaviour(
            session,
            tenant_of(session, admin.actor),
            admin.actor,
            scim_delete=scim_delete,
            sso_only=sso_only,
            shared_emails=shared_emails,
        )

    return await write_then_back(runtime, f"{PREFIX}/settings", save, "Settings saved.")
