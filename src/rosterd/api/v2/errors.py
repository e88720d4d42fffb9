"""The REST v2 error envelope: ``{"error": {"code", "message", "details": [{field, message}]}}``."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from rosterd.services.errors import DomainError

# Domain field names as the v2 wire calls them.
_WIRE_FIELDS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "display_name": "displayName",
    "role_id": "roleId",
    "team_id": "teamId",
    "group_ids": "groupIds",
    "parent_id": "parentId",
    "manager_id": "managerId",
    "external_id": "externalId",
    "reassign_to": "reassignTo",
}


def wire_field(name: str) -> str:
    return _WIRE_FIELDS.get(name, name)


def render(request: Request, exc: DomainError, status: int) -> Response:
    message = exc.message
    field, sep, rest = message.partition(": ")
    if sep and field in _WIRE_FIELDS:
        message = f"{_WIRE_FIELDS[field]}: {rest}"
    body = {
        "error": {
            "code": exc.code,
            "message": message,
            "details": [{"field": wire_field(d.field), "message": d.message} for d in exc.details],
        }
    }
    headers = {"WWW-Authenticate": 'Bearer realm="rosterd"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)
