"""The user identities error format (as the Seam SDK parses it):
``{"error": {"type", "message", "validation_errors"?}, "ok": false}``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from rosterd.api.deps import request_id
from rosterd.api.identities.router import WIRE_NAMES
from rosterd.api.wire import wire_message
from rosterd.services import idempotency
from rosterd.services.errors import DomainError

_TYPES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "user_identity_not_found",
    409: "user_identity_already_exists",
    429: "rate_limited",
}
# Refusals of an Idempotency-Key (an extension) are typed by their own codes, not as the
# status's usual error (a 409 here is otherwise an identity that exists).
_OWN_TYPES = frozenset({idempotency.IN_PROGRESS, idempotency.REUSED})


def wire_field(name: str) -> str:
    return WIRE_NAMES.get(name, name)


def render(request: Request, exc: DomainError, status: int) -> Response:
    error: dict[str, Any] = {
        "type": exc.code
        if exc.code in _OWN_TYPES
        else _TYPES.get(status, "internal_server_error" if status >= 500 else "error"),
        "message": wire_message(exc, WIRE_NAMES),
    }
    if status == 400 and exc.details:
        error["validation_errors"] = {
            wire_field(d.field): {"_errors": [d.message]} for d in exc.details
        }
    headers = {"seam-request-id": request_id(request) or ""}
    return JSONResponse({"error": error, "ok": False}, status_code=status, headers=headers)
