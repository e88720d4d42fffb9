"""The /api/v1 error format: ``{"error": {"code", "message", "status", "httpMessage"}}``.

The message is the only place for a field, so it names them in v1's terms."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from rosterd.api.v1.schemas import WIRE_NAMES
from rosterd.api.wire import wire_message
from rosterd.services.errors import DomainError


def render(request: Request, exc: DomainError, status: int) -> Response:
    body = {
        "error": {
            "code": status,
            "message": wire_message(exc, WIRE_NAMES),
            "status": status,
            "httpMessage": HTTPStatus(status).phrase,
        }
    }
    headers = {"WWW-Authenticate": 'Bearer realm="rosterd-api-v1"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)
