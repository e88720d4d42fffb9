"""The REST v2 error envelope: ``{"error": {"code", "message", "details": [{field, message}]}}``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from rosterd.api.v2.schemas import WIRE_NAMES
from rosterd.api.wire import wire_message
from rosterd.services.errors import DomainError


def renderer(table: dict[str, str]) -> Callable[[Request, DomainError, int], Response]:
    """The v2 error envelope, naming fields through ``table`` (domain name -> wire name); the
    admin API speaks the same format with its own fields."""

    def render(request: Request, exc: DomainError, status: int) -> Response:
        body = {
            "error": {
                "code": exc.code,
                "message": wire_message(exc, table),
                "details": [
                    {"field": table.get(d.field, d.field), "message": d.message}
                    for d in exc.details
                ],
            }
        }
        headers = {"WWW-Authenticate": 'Bearer realm="rosterd"'} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)

    return render


render = renderer(WIRE_NAMES)
