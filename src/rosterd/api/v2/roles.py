"""/integration/v2/roles. Create, update and delete are documented extensions."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response, status
from sqlalchemy.orm import Session

from rosterd.api.deps import ReadSession, WriteSession
from rosterd.api.routing import api_router
from rosterd.api.v2.auth import RoleRead, RoleWrite
from rosterd.api.v2.paging import WindowDep, errors
from rosterd.api.v2.schemas import RoleCreate, RoleList, RoleOut, RoleUpdate
from rosterd.domain.commands import NewRole, RolePatch
from rosterd.services import roles as roles_service
from rosterd.services.context import Actor

router = api_router(prefix="/roles", tags=["Roles"])


def _out(session: Session, actor: Actor, role_id: uuid.UUID) -> RoleOut:
    role = roles_service.get_role(session, actor, role_id)
    return RoleOut.of(role, roles_service.user_counts(session, actor, [role]).get(role.id, 0))


@router.get(
    "",
    operation_id="listRoles",
    summary="List Roles",
    response_model=RoleList,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403),
)
def list_roles(actor: RoleRead, session: ReadSession, window: WindowDep) -> dict[str, Any]:
    roles, total = roles_service.list_roles(
        session, actor, offset=window.offset, limit=window.limit
    )
    counts = roles_service.user_counts(session, actor, roles)
    return {
        "items": [RoleOut.of(r, counts.get(r.id, 0)) for r in roles],
        "totalCount": total,
        **window.envelope(),
    }


@router.post(
    "",
    operation_id="createRole",
    summary="Create a Role (extension)",
    status_code=status.HTTP_201_CREATED,
    response_model=RoleOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 409),
)
def create_role(body: RoleCreate, actor: RoleWrite, session: WriteSession) -> RoleOut:
    role = roles_service.create_role(
        session,
        actor,
        NewRole(name=body.name, description=body.description, permissions=body.permissions),
    )
    return RoleOut.of(role, 0)


@router.get(
    "/{roleId}",
    operation_id="getRole",
    summary="Get a Role",
    response_model=RoleOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def get_role(roleId: uuid.UUID, actor: RoleRead, session: ReadSession) -> RoleOut:  # noqa: N803
    return _out(session, actor, roleId)


@router.patch(
    "/{roleId}",
    operation_id="updateRole",
    summary="Update a Role (extension)",
    description="System roles cannot be changed (403).",
    response_model=RoleOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404, 409),
)
def update_role(
    roleId: uuid.UUID,  # noqa: N803
    body: RoleUpdate,
    actor: RoleWrite,
    session: WriteSession,
) -> RoleOut:
    roles_service.update_role(
        session, actor, roleId, RolePatch(**body.model_dump(exclude_unset=True))
    )
    return _out(session, actor, roleId)


@router.delete(
    "/{roleId}",
    operation_id="deleteRole",
    summary="Delete a Role (extension)",
    description="System roles cannot be deleted (403); a role still assigned to users is "
    "refused with 409.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, 401, 403, 404, 409),
)
def delete_role(roleId: uuid.UUID, actor: RoleWrite, session: WriteSession) -> Response:  # noqa: N803
    roles_service.delete_role(session, actor, roleId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
