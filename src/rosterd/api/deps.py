"""Dependencies shared by every surface: the runtime and the request's unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from rosterd.runtime import Runtime

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _session(request: Request) -> AsyncIterator[Session]:
    """The request is the unit of work: commit when the endpoint returns, else roll back.

    Opening a Session does no I/O (it connects on its first statement, in the endpoint's
    thread), so this runs on the event loop. Sync endpoints commit in their own thread
    (``rosterd.api.routing``); only what is still open here (async endpoints, sessions used
    by dependencies alone, failures) takes a worker thread to finish.
    """
    runtime: Runtime = request.app.state.runtime
    factory = runtime.db.reader if request.method in _READ_METHODS else runtime.db.writer
    session = factory()
    try:
        yield session
    except BaseException:
        if session.in_transaction():
            await run_in_threadpool(session.rollback)
        session.close()
        raise
    if session.in_transaction():
        await run_in_threadpool(session.commit)
    session.close()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# scope="function": the commit happens before the response is sent, so a failed commit is
# reported to the client instead of being lost after a 2xx went out.
SessionDep = Annotated[Session, Depends(_session, scope="function")]


def request_id(request: Request) -> str | None:
    rid: str | None = request.scope.get("state", {}).get("request_id")
    return rid
