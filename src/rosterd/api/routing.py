"""The router every surface uses: a sync endpoint runs, and commits, where its work belongs.

FastAPI runs a sync endpoint in a worker thread of Starlette's pool and a dependency's exit
back on the event loop, so committing in the session dependency would cost a second
hand-off, and on SQLite the write lock would stay held while the commit waits its turn on a
busy loop. It also validates a sync endpoint's return value in a third hand-off
(``serialize_response`` with ``is_coroutine=False``).

So each sync endpoint is wrapped in a coroutine that gives the endpoint, and the commit of
the Sessions it was given, to the runtime's runner (``rosterd.db.work``), which runs them
where the kind of the sessions says: on SQLite a point read on the event loop, a slow read
on a bounded executor, a write in the group-committing writer; on PostgreSQL in an
executor sized to the pool. FastAPI, seeing a coroutine, serializes the result on the
event loop (cheap: the endpoints return wire models already built). The session
dependency then only closes the Sessions (see ``rosterd.api.deps``). An endpoint given no
Session runs in Starlette's thread pool as before.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from rosterd.db.work import RUNNER, Runner, kind_of


def commits_where_its_work_runs(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as a coroutine that has the runner of its Sessions run it and, once it
    returns without error, commit them."""

    @functools.wraps(endpoint)
    async def run(**kwargs: Any) -> Any:
        sessions = [value for value in kwargs.values() if isinstance(value, Session)]
        call = functools.partial(endpoint, **kwargs)
        if not sessions:
            return await run_in_threadpool(call)
        runner: Runner = sessions[0].info[RUNNER]
        return await runner.run(kind_of(sessions), sessions, call)

    return run


class UnitOfWorkRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = commits_where_its_work_runs(endpoint)
        super().__init__(path, endpoint, **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes run and commit the request's unit of work where it belongs."""
    return APIRouter(route_class=UnitOfWorkRoute, **kwargs)
