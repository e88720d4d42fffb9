"""The SCIM error format (RFC 7644 §3.12): ``status`` as a string, ``scimType``, ``detail``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from scim2_models import Error, SCIMException, ScimPolicy

from rosterd.api.scim.mapping import SCIM_NAMES
from rosterd.api.wire import wire_message
from rosterd.services.errors import DomainError, Invalid

SCIM_MEDIA_TYPE = "application/scim+json"

# Domain error codes that are SCIM detail keywords (RFC 7644 §3.12, Table 9).
SCIM_TYPES = frozenset(
    {
        "invalidFilter",
        "tooMany",
        "uniqueness",
        "mutability",
        "invalidSyntax",
        "invalidPath",
        "noTarget",
        "invalidValue",
        "invalidVers",
        "sensitive",
    }
)


class ScimResponse(JSONResponse):
    """A SCIM body, serialised by orjson (the same compact JSON as JSONResponse, faster)."""

    media_type = SCIM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:
            # orjson refuses integers beyond 64 bits; a list response echoes the client's
            # startIndex, which may be any integer. The standard library writes them.
            return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()


def _scim_type(exc: DomainError, status: int) -> str | None:
    if exc.code in SCIM_TYPES:
        return exc.code
    if status == 409:
        return "uniqueness"
    if status == 400:
        # A body that is not JSON, or not a JSON object, has the wrong message structure.
        if any(d.field == "body" for d in exc.details):
            return "invalidSyntax"
        return "invalidValue"
    return None


def error_body(exc: DomainError, status: int) -> dict[str, Any]:
    body: dict[str, Any] = Error(
        status=status, scim_type=_scim_type(exc, status), detail=wire_message(exc, SCIM_NAMES)
    ).model_dump()
    return body


def render(request: Request, exc: DomainError, status: int) -> Response:
    body = error_body(exc, status)
    headers = {"WWW-Authenticate": 'Bearer realm="rosterd-scim"'} if status == 401 else None
    return ScimResponse(body, status_code=status, headers=headers)


def from_scim_exception(exc: Exception) -> tuple[DomainError, int]:
    """scim2-models raises SCIMException subclasses that already carry status and scimType."""
    assert isinstance(exc, SCIMException)
    error = exc.to_error()
    return DomainError(message=error.detail or str(exc), code=error.scim_type or "error"), int(
        error.status or 400
    )


def refused_request(exc: ValidationError) -> Invalid:
    """A request scim2-models refused, in SCIM terms (its scimType, every error's detail)."""
    errors = Error.from_validation_errors(exc)
    first = errors[0] if errors else Error(status=400, scim_type="invalidValue", detail=str(exc))
    detail = "; ".join(e.detail or "" for e in errors) or str(exc)
    return Invalid(detail, code=first.scim_type or "invalidValue")


@contextmanager
def reading_request(policy: ScimPolicy) -> Iterator[None]:
    """Read a request (body, PATCH operations, search) under ``policy``: what scim2-models
    refuses there is the client's mistake, a 400. A ValidationError anywhere else, such as
    building a response, is a bug and stays a 500."""
    try:
        with policy:
            yield
    except ValidationError as exc:
        raise refused_request(exc) from exc
