"""What every console page does: render a template with the signed-in admin, redirect after
a form (POST, then GET) with a notice, and show errors as pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import URL

from rosterd.api.deps import in_unit_of_work
from rosterd.api.routing import api_router
from rosterd.console.session import PREFIX, ConsoleAdmin, SignInRequired
from rosterd.console.templating import templates
from rosterd.db.work import Kind
from rosterd.runtime import Runtime
from rosterd.services.errors import DomainError, NotFound, RateLimited

router = api_router(prefix=PREFIX, include_in_schema=False)


def page(
    request: Request,
    name: str,
    admin: ConsoleAdmin | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    response = templates.TemplateResponse(
        request,
        name,
        {
            "admin": admin,
            "csrf_token": admin.csrf_token if admin else None,
            "notice": request.query_params.get("notice"),
            "error": request.query_params.get("error"),
            **context,
        },
        status_code=status_code,
    )
    # Pages show a tenant's people and, once, secrets: never kept by a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def back_to(path: str, *, notice: str | None = None, error: str | None = None) -> Response:
    """Redirect (303, so the browser GETs) to ``path`` with a message to show there."""
    query = urlencode({k: v for k, v in (("notice", notice), ("error", error)) if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


async def write_then_back(
    runtime: Runtime, path: str, work: Callable[[Session], object], notice: str
) -> Response:
    """Run ``work`` as the request's write and go back to ``path`` saying what happened; a
    refused change is shown there and writes nothing. NotFound (not of the admin's tenant)
    is raised on: a 404 page."""
    try:
        await in_unit_of_work(runtime, Kind.WRITE, work)
    except NotFound:
        raise
    except DomainError as exc:
        return back_to(path, error=str(exc))
    return back_to(path, notice=notice)


def render_error(request: Request, exc: DomainError, status: int) -> Response:
    """A console path's errors (rosterd.api.errors.SurfaceErrors): no session is the sign-in
    page, anything else an error page with the message."""
    if isinstance(exc, SignInRequired) or (status == 401 and not isinstance(exc, RateLimited)):
        target = URL(f"{PREFIX}/sign-in").include_query_params(next=_next(request))
        response: Response = RedirectResponse(str(target), status_code=303)
        return response
    return page(request, "error.html", None, status_code=status, status=status, message=str(exc))


def _next(request: Request) -> str:
    if request.method != "GET":
        return f"{PREFIX}/"
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")
