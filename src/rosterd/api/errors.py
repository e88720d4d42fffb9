"""Routing of errors to the surface that owns the path.

Each surface registers one renderer for its path prefixes; every exception raised while
serving a path under that prefix (domain errors, request validation, unknown routes, bugs)
comes out in that surface's documented error format.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rosterd.api.deps import request_id
from rosterd.db.unavailable import is_store_unavailable
from rosterd.services.errors import (
    DomainError,
    FieldError,
    Invalid,
    RateLimited,
    Unavailable,
    conflict_of,
)

log = logging.getLogger("rosterd.api")

Renderer = Callable[[Request, DomainError, int], Response]


@dataclass
class _Surface:
    prefixes: tuple[str, ...]
    render: Renderer


_STATUS = {
    "NotFound": 404,
    "Conflict": 409,
    "Invalid": 400,
    "Forbidden": 403,
    "Unauthenticated": 401,
    "PreconditionFailed": 412,
    "TooLarge": 413,
    "Unprocessable": 422,
    "RateLimited": 429,
    "Unavailable": 503,
}


def status_for(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls.__name__ in _STATUS:
            return _STATUS[cls.__name__]
    return 500


def validation_details(exc: RequestValidationError) -> list[FieldError]:
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in {"body", "query", "path", "header", "form"}:
            loc = loc[1:] if len(loc) > 1 else loc
        name = ".".join(loc) or "body"
        if err.get("type") == "json_invalid":
            name, message = "body", f"malformed JSON: {err.get('ctx', {}).get('error', 'invalid')}"
        elif err.get("type") == "extra_forbidden":
            message = "unknown field"
        elif err.get("type") == "missing":
            message = "field required"
        else:
            message = str(err.get("msg", "invalid value"))
        details.append(FieldError(name, message))
    return details


# A translator renders a library's exception as a domain error and a status, or answers None
# when it does not understand this one (it is then a bug: logged, and a 500).
Translator = Callable[[Exception], tuple[DomainError, int] | None]


class SurfaceErrors:
    def __init__(self, default: Renderer) -> None:
        self._surfaces: list[_Surface] = []
        self._default = default
        self._translators: dict[type[Exception], Translator] = {}
        self._handlers: dict[type[Exception], Callable[[Request, Exception], Response]] | None = (
            None
        )

    def translate(self, exc_type: type[Exception], translator: Translator) -> None:
        """Render a library's exception (e.g. scim2-models' SCIMException) as a domain error."""
        self._translators[exc_type] = translator

    def register(self, prefixes: tuple[str, ...], render: Renderer) -> None:
        self._surfaces.append(_Surface(prefixes, render))

    def renderer(self, path: str) -> Renderer:
        for surface in self._surfaces:
            if any(path == p or path.startswith(p.rstrip("/") + "/") for p in surface.prefixes):
                return surface.render
        return self._default

    def respond(self, request: Request, exc: DomainError) -> Response:
        """``exc`` as its status, in the format of the surface that owns the path."""
        return _retry_after(self.renderer(request.url.path)(request, exc, status_for(exc)), exc)

    def handlers(self) -> dict[type[Exception], Callable[[Request, Exception], Response]]:
        """The response to each kind of exception, by type: what the app's exception
        handlers answer, and ``response_for`` too."""

        def on_domain(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, DomainError)
            return self.respond(request, exc)

        def on_validation(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, RequestValidationError)
            details = validation_details(exc)
            message = "; ".join(f"{d.field}: {d.message}" for d in details)
            err = Invalid(message=f"invalid request: {message}", details=details)
            return self.renderer(request.url.path)(request, err, 400)

        def on_http(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, StarletteHTTPException)
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
            err = DomainError(message=str(exc.detail), code=code)
            if exc.status_code == 400 and exc.__cause__ is not None:
                # FastAPI's "There was an error parsing the body", from the reason it hides.
                err = malformed_body(exc.__cause__)
            response = self.renderer(request.url.path)(request, err, exc.status_code)
            for key, value in (exc.headers or {}).items():
                response.headers[key] = value
            return response

        def on_bug(request: Request, exc: Exception) -> Response:
            log.error(
                "unhandled error on %s %s (request %s)",
                request.method,
                request.url.path,
                request_id(request),
                exc_info=exc,
            )
            err = DomainError(
                message=f"internal server error (request {request_id(request)})",
                code="internal_error",
            )
            return self.renderer(request.url.path)(request, err, 500)

        def make_translated(translator: Translator) -> Callable[[Request, Exception], Response]:
            def on_translated(request: Request, exc: Exception) -> Response:
                translated = translator(exc)
                if translated is None:
                    return on_bug(request, exc)
                err, status = translated
                return _retry_after(self.renderer(request.url.path)(request, err, status), err)

            return on_translated

        handlers: dict[type[Exception], Callable[[Request, Exception], Response]] = {
            exc_type: make_translated(translator)
            for exc_type, translator in self._translators.items()
        }
        handlers[DomainError] = on_domain
        handlers[RequestValidationError] = on_validation
        handlers[StarletteHTTPException] = on_http
        handlers[Exception] = on_bug
        return handlers

    def response_for(self, request: Request, exc: Exception) -> Response:
        """The response to ``exc``, as the app's exception handlers give it (the nearest
        handled class in its MRO): for code that answers requests outside FastAPI's routing
        (rosterd.api.fast_paths)."""
        handlers = self._handlers
        if handlers is None:
            handlers = self._handlers = self.handlers()
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                return handler(request, exc)
        raise exc

    def install(self, app: FastAPI) -> None:
        for exc_type, handler in self.handlers().items():
            app.add_exception_handler(exc_type, _as_coroutine(handler))


def _retry_after(response: Response, exc: DomainError) -> Response:
    """Tell a caller refused for now when to try again."""
    if isinstance(exc, RateLimited | Unavailable):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _as_coroutine(
    handler: Callable[[Request, Exception], Response],
) -> Callable[[Request, Exception], Awaitable[Response]]:
    # Starlette runs a plain function handler in a worker thread; these only render.
    async def handle(request: Request, exc: Exception) -> Response:
        return handler(request, exc)

    return handle


def malformed_body(cause: BaseException) -> Invalid:
    """A request body that cannot be read: not UTF-8, not JSON, or nested too deep to parse."""
    if isinstance(cause, UnicodeDecodeError):
        reason = "not valid UTF-8"
    elif isinstance(cause, RecursionError):
        reason = "JSON nested too deeply"
    elif isinstance(cause, json.JSONDecodeError):
        reason = f"malformed JSON: {cause.msg}"
    else:
        reason = "cannot be parsed"
    return Invalid(message=f"request body: {reason}", details=[FieldError("body", reason)])


def plain_json(request: Request, exc: DomainError, status: int) -> Response:
    """The format of paths no surface claims (operations endpoints)."""
    return JSONResponse({"error": exc.code, "message": exc.message}, status_code=status)


def store_conflict(exc: Exception) -> tuple[DomainError, int] | None:
    """A unique index refused a write the service's own checks let through (a race with a
    concurrent writer): a 409 naming the field. Any other integrity error is a bug."""
    assert isinstance(exc, IntegrityError)
    conflict = conflict_of(exc)
    return (conflict, 409) if conflict else None


# Seconds a caller refused for a busy or unreachable store is asked to wait.
STORE_RETRY_AFTER = 2


def store_unavailable(exc: Exception) -> tuple[DomainError, int] | None:
    """The store is busy or unreachable (its connection limit, a pool timeout, a locked
    SQLite file): a 503 the caller may retry, logged as a warning, not as a bug. Any other
    driver error is a bug."""
    if not is_store_unavailable(exc):
        return None
    log.warning("store unavailable: %s", exc.__class__.__name__ + ": " + str(exc).splitlines()[0])
    err = Unavailable(
        message="the directory's store is busy or unreachable; try again shortly",
        retry_after=STORE_RETRY_AFTER,
    )
    return err, 503
