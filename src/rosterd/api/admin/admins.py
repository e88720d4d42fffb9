"""/admin/api/admins: the /api/v1 login accounts, managed over HTTP with an OAuth `admin` token.

The same operations as `rosterd admins list|unlock|reset-password|delete`, on the admins of
the token's tenant (an admin of another tenant is not found), each audited with the client
that asked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from rosterd.api.admin.shared import PREFIX, Admin, tenant_of
from rosterd.api.deps import ReadSession, RuntimeDep, WriteSession
from rosterd.api.routing import api_router
from rosterd.api.v2.paging import errors
from rosterd.api.v2.schemas import iso_timestamp
from rosterd.models import AdminUser
from rosterd.runtime import Runtime
from rosterd.services import admins as admins_service
from rosterd.services.context import Actor

router = api_router(prefix=f"{PREFIX}/admins", tags=["Admin"])
Username = Annotated[str, Path(min_length=1, max_length=255)]


class AdminOut(BaseModel):
    username: str
    createdAt: str  # noqa: N815
    lastLoginAt: str | None = None  # noqa: N815

    @classmethod
    def of(cls, admin: AdminUser) -> AdminOut:
        return cls(
            username=admin.username,
            createdAt=iso_timestamp(admin.created_at) or "",
            lastLoginAt=iso_timestamp(admin.last_login_at),
        )


class AdminList(BaseModel):
    items: list[AdminOut]


class NewPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=256)


@router.get(
    "",
    operation_id="listAdmins",
    summary="List the tenant's /api/v1 admins",
    response_model=AdminList,
    response_model_exclude_none=True,
    responses=errors(401, 403),
)
def list_admins(actor: Admin, session: ReadSession) -> AdminList:
    tenant = tenant_of(session, actor)
    return AdminList(items=[AdminOut.of(a) for a in admins_service.list_admins(session, tenant)])


@router.post(
    "/{username}/unlock",
    operation_id="unlockAdmin",
    summary="Lift the login throttles on an admin's account, on every node",
    response_model=AdminOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def unlock(username: Username, actor: Admin, session: WriteSession) -> AdminOut:
    admin = admins_service.get(session, username, actor.tenant_id, for_update=True)
    admins_service.unlock(session, admin, actor)
    return AdminOut.of(admin)


def _reset(runtime: Runtime, username: str, password_hash: str, actor: Actor) -> AdminOut:
    with runtime.db.writer.begin() as session:
        admin = admins_service.get(session, username, actor.tenant_id, for_update=True)
        admins_service.reset_password(session, admin, password_hash, actor)
        return AdminOut.of(admin)


@router.post(
    "/{username}/password",
    operation_id="resetAdminPassword",
    summary="Give an admin a new password; its tokens are revoked and its throttles lifted",
    response_model=AdminOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
async def reset_password(
    username: Username, body: NewPassword, actor: Admin, runtime: RuntimeDep
) -> AdminOut:
    # Hashed first, outside the transaction that stores it (argon2 takes ~100 ms of CPU).
    password_hash = await run_in_threadpool(admins_service.new_password_hash, body.password)
    return await run_in_threadpool(_reset, runtime, username, password_hash, actor)


@router.delete(
    "/{username}",
    operation_id="deleteAdmin",
    summary="Delete an admin; the tokens issued to it stop working",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(400, 401, 403, 404),
)
def delete(username: Username, actor: Admin, session: WriteSession) -> None:
    admin = admins_service.get(session, username, actor.tenant_id, for_update=True)
    admins_service.delete_admin(session, admin, actor)
