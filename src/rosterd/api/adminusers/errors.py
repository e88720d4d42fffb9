"""The ADMIN users API error format: ``{"status", "error", "message", "path"}``."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from rosterd.api.adminusers.wire import WIRE_NAMES
from rosterd.services.errors import DomainError


def render(request: Request, exc: DomainError, status: int) -> Response:
    message = exc.message
    field, sep, rest = message.partition(": ")
    if sep and field in WIRE_NAMES:
        message = f"{WIRE_NAMES[field]}: {rest}"
    body = {
        "status": status,
        "error": HTTPStatus(status).phrase,
        "message": message,
        "path": request.url.path,
    }
    return JSONResponse(body, status_code=status)
