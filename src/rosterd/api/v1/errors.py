"""The /api/v1 error format: ``{"error": {"code", "message", "status", "httpMessage"}}``."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from rosterd.services.errors import DomainError

# Domain field names as /api/v1 calls them.
_WIRE_FIELDS = {
    "username": "userName",
    "first_name": "firstName",
    "last_name": "lastName",
    "role_id": "roleId",
    "group_ids": "groups",
}


def render(request: Request, exc: DomainError, status: int) -> Response:
    message = exc.message
    field, sep, rest = message.partition(": ")
    if sep and field in _WIRE_FIELDS:
        message = f"{_WIRE_FIELDS[field]}: {rest}"
    body = {
        "error": {
            "code": status,
            "message": message,
            "status": status,
            "httpMessage": HTTPStatus(status).phrase,
        }
    }
    headers = {"WWW-Authenticate": 'Bearer realm="rosterd-api-v1"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)
