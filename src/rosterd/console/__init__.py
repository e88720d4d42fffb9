"""The admin console: server-rendered pages at /admin for the people who run the directory.

The pages call the domain services directly, as every other surface does; each write is
audited with ``surface="console"`` and the signed-in admin as the actor. Templates, CSS and
the little JavaScript there is ship inside this package (no CDN, no build step). The JSON
admin API keeps ``/admin/api/*``; the console has every other path under ``/admin``.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from rosterd.api.errors import SurfaceErrors
from rosterd.console import (
    access,
    audit,
    dashboard,
    groups,
    lifecycle,
    settings,
    sign_in,
    users,
    webhooks,
)
from rosterd.console.pages import render_error, router
from rosterd.console.session import PREFIX
from rosterd.console.templating import STATIC_DIR

# Imported for the routes they add to ``router``.
PAGES = (access, audit, dashboard, groups, lifecycle, settings, sign_in, users, webhooks)


def register_errors(errors: SurfaceErrors) -> None:
    """Errors under /admin render as console pages (after /admin/api's own format, which
    is registered first and so wins for its paths)."""
    errors.register((PREFIX,), render_error)


def install(app: FastAPI) -> None:
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(router)
