"""The REST v2 error envelope: ``{"error": {"code", "message", "details": [{field, message}]}}``."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from rosterd.api.v2.schemas import WIRE_NAMES
from rosterd.api.wire import wire_message
from rosterd.services.errors import DomainError


def wire_field(name: str) -> str:
    return WIRE_NAMES.get(name, name)


def render(request: Request, exc: DomainError, status: int) -> Response:
    body = {
        "error": {
            "code": exc.code,
            "message": wire_message(exc, WIRE_NAMES),
            "details": [{"field": wire_field(d.field), "message": d.message} for d in exc.details],
        }
    }
    headers = {"WWW-Authenticate": 'Bearer realm="rosterd"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)
