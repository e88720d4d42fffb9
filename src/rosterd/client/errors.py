"""Every error the SDK raises, in one tree.

::

    RosterdError                    anything below; catch it to catch them all
    ├── TransportError              no answer: connection refused or reset, timeout
    └── APIError                    the server answered with an error status
        ├── BadRequest              400 (and 422) — ValidationError is the common case
        │   └── ValidationError     400 naming fields: ``field_errors`` {field: message}
        ├── AuthError               401: wrong client credentials, or a token refused twice;
        │                           the token endpoint's invalid_grant (a refresh token
        │                           revoked, expired or already used: sign in again)
        ├── PermissionDenied        403: the client lacks the scope
        ├── NotFound                404
        ├── Conflict                409: already exists, held sweep, key still in flight
        ├── PreconditionFailed      412: If-Match names a version no longer current
        ├── RateLimited             429, once retries are spent: ``retry_after`` seconds
        └── ServerError             5xx, once retries are spent (503 included)

Each ``APIError`` carries the HTTP ``status``, the parsed error ``body`` (the v2 envelope
``{"error": {"code", "message", "details": [{field, message}]}}``, or the OAuth
``{"error", "error_description"}`` of the token endpoint), its ``code`` and the server's
``request_id`` (the ``X-Request-ID`` response header) to quote in a bug report.

Example::

    from rosterd.client import Client, errors

    try:
        client.users.create(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    except errors.Conflict:
        pass  # already there
    except errors.ValidationError as exc:
        print(exc.field_errors)  # {"email": "not a valid email address"}
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "APIError",
    "AuthError",
    "BadRequest",
    "Conflict",
    "NotFound",
    "PermissionDenied",
    "PreconditionFailed",
    "RateLimited",
    "RosterdError",
    "ServerError",
    "TransportError",
    "ValidationError",
]

REQUEST_ID_HEADER = "X-Request-ID"


class RosterdError(Exception):
    """The root of every error the SDK raises."""


class TransportError(RosterdError):
    """No HTTP answer (connection refused or reset, timeout), once retries are spent.
    ``__cause__`` is the httpx exception."""


class APIError(RosterdError):
    """The server answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: Any = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        where = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.status} {self.code or 'error'}: {self.message}{where}"


class BadRequest(APIError):
    """400: the request was refused as invalid; nothing was written."""


class ValidationError(BadRequest):
    """400 naming the fields at fault: ``field_errors`` maps each (as the API names it,
    e.g. ``firstName``) to its message."""

    def __init__(self, message: str, *, field_errors: dict[str, str], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.field_errors = field_errors


class AuthError(APIError):
    """401: the client id or secret is wrong, or the server refused a fresh token; or the
    token endpoint refused the refresh token (400 ``invalid_grant``): sign in again."""


class PermissionDenied(APIError):
    """403: the client's scopes do not allow this call."""


class NotFound(APIError):
    """404: no such resource in the tenant."""


class Conflict(APIError):
    """409: it conflicts with what is there (an email already taken: it is already there)."""


class PreconditionFailed(APIError):
    """412: ``if_match`` named a version the resource has moved on from; read it again."""


class RateLimited(APIError):
    """429 after every retry: ``retry_after`` is how many seconds the server asked to wait."""

    def __init__(self, message: str, *, retry_after: float | None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx after every retry the call allowed."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: AuthError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    422: BadRequest,
}


def from_response(response: httpx.Response, *, retry_after: float | None = None) -> APIError:
    """The error a response with an error status stands for."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text or None
    code, message, field_errors = _parse(body)
    message = message or response.reason_phrase or "error"
    kw: dict[str, Any] = {
        "status": response.status_code,
        "body": body,
        "code": code,
        "request_id": response.headers.get(REQUEST_ID_HEADER),
    }
    status = response.status_code
    if status == 429:
        return RateLimited(message, retry_after=retry_after, **kw)
    if status >= 500:
        return ServerError(message, **kw)
    if status == 400 and field_errors:
        return ValidationError(message, field_errors=field_errors, **kw)
    return _BY_STATUS.get(status, APIError)(message, **kw)


def _parse(body: Any) -> tuple[str | None, str | None, dict[str, str]]:
    """(code, message, field errors) of a v2 error envelope or an OAuth error."""
    if not isinstance(body, dict):
        return None, body if isinstance(body, str) else None, {}
    error = body.get("error")
    if isinstance(error, dict):
        details = error.get("details") or []
        fields = {
            str(d["field"]): str(d.get("message", ""))
            for d in details
            if isinstance(d, dict) and d.get("field")
        }
        return _str(error.get("code")), _str(error.get("message")), fields
    if isinstance(error, str):  # RFC 6749 §5.2
        return error, _str(body.get("error_description")), {}
    return None, _str(body.get("detail")), {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
