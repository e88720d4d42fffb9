"""The app as a worker process loads it: the factory ``rosterd.api.asgi:create``.

``rosterd serve --workers N`` migrates the store and makes the first tenant in its own
process, then has uvicorn spawn N workers (fresh interpreters: no engine, pool or thread of
the serve process crosses into them). Each worker calls this factory, which opens a runtime
of its own on the store the environment names (serve puts its ``--data-dir`` and
``--database-url`` there) and closes it when the worker shuts down. Workers serve requests
only: the scheduler runs once, in the serve process (rosterd.lifecycle.scheduler).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from rosterd.api.app import create_app
from rosterd.api.heap import freeze_startup_objects
from rosterd.config import get_settings
from rosterd.runtime import open_runtime


def create() -> FastAPI:
    """The app on a runtime of this process's own; the store must exist (serve made it)."""
    runtime = open_runtime(get_settings(), create=False, bootstrap=False)
    app = create_app(runtime)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        try:
            async with inner(app) as state:
                yield state
        finally:
            runtime.close()

    app.router.lifespan_context = lifespan
    freeze_startup_objects()
    return app
