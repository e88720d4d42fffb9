"""The ADMIN users API error format: ``{"status", "error", "message", "path"}``."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from rosterd.services.errors import DomainError

_WIRE_FIELDS = {
    "email": "emailAddress",
    "first_name": "firstName",
    "last_name": "lastName",
    "role_id": "roles",
    "group_ids": "groups",
    "external_identities": "externalIdentity",
    "expires_at": "expiredDate",
}


def render(request: Request, exc: DomainError, status: int) -> Response:
    message = exc.message
    field, sep, rest = message.partition(": ")
    if sep and field in _WIRE_FIELDS:
        message = f"{_WIRE_FIELDS[field]}: {rest}"
    body = {
        "status": status,
        "error": HTTPStatus(status).phrase,
        "message": message,
        "path": request.url.path,
    }
    return JSONResponse(body, status_code=status)
