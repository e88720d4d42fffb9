"""The router every surface uses: a sync endpoint and its commit take one worker thread.

FastAPI runs a sync endpoint in a worker thread and a dependency's exit back on the event
loop, so committing in the session dependency would cost a second thread hand-off, and on
SQLite the write lock would stay held while the commit waits its turn on a busy loop. It
also validates a sync endpoint's return value in a third hand-off (``serialize_response``
with ``is_coroutine=False``), about a quarter of a millisecond each here.

So each sync endpoint is wrapped in a coroutine that runs the endpoint and then commits the
request's Session in one worker thread; FastAPI, seeing a coroutine, validates and serializes
the result on the event loop (cheap: the endpoints return wire models already built). The
session dependency then only closes the Session (see ``rosterd.api.deps``).
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


def _call_and_commit(endpoint: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    sessions = [value for value in kwargs.values() if isinstance(value, Session)]
    try:
        result = endpoint(**kwargs)
        for session in sessions:
            session.commit()
    except BaseException:
        # Roll back here, in this thread, so the connection (on SQLite, the only writer) is
        # free at once: handing the rollback to another worker thread made a failed request
        # hold the writer until a thread was free, while every thread waited for the writer.
        for session in sessions:
            session.rollback()
            session.close()
        raise
    return result


def commits_in_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as a coroutine that runs it in a worker thread and, once it returns
    without error, commits the Session it was given in that same thread."""

    @functools.wraps(endpoint)
    async def run(**kwargs: Any) -> Any:
        return await run_in_threadpool(_call_and_commit, endpoint, kwargs)

    return run


class UnitOfWorkRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = commits_in_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes commit the request's unit of work in the endpoint's thread."""
    return APIRouter(route_class=UnitOfWorkRoute, **kwargs)
