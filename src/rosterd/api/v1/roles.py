"""/api/v1/roles and /api/roles (pysisense resolves role names through the latter)."""

from __future__ import annotations

from typing import Any

from rosterd.api.deps import ReadSession
from rosterd.api.routing import api_router
from rosterd.api.v1.auth import ApiV1Actor
from rosterd.api.v1.schemas import role_out
from rosterd.services import roles as roles_service

router = api_router(tags=["API v1"])

ALL_ROLES = 10_000


@router.get("/api/v1/roles", operation_id="apiV1ListRoles", summary="List roles")
@router.get("/api/roles", operation_id="apiListRoles", summary="List roles (unversioned path)")
def list_roles(actor: ApiV1Actor, session: ReadSession) -> list[dict[str, Any]]:
    roles, _ = roles_service.list_roles(session, actor, offset=0, limit=ALL_ROLES)
    return [role_out(r) for r in roles]
