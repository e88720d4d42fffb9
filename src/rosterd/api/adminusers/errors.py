"""The ADMIN users API error format: ``{"status", "error", "message", "path"}``.

The message is the only place for a field, so it names them in this API's terms."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from rosterd.api.adminusers.wire import WIRE_NAMES
from rosterd.api.wire import wire_message
from rosterd.services.errors import DomainError


def render(request: Request, exc: DomainError, status: int) -> Response:
    body = {
        "status": status,
        "error": HTTPStatus(status).phrase,
        "message": wire_message(exc, WIRE_NAMES),
        "path": request.url.path,
    }
    return JSONResponse(body, status_code=status)
