"""Dependencies shared by every surface: the runtime and the request's unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from rosterd.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _unit_of_work(
    pick: Callable[[Runtime], sessionmaker[Session]],
) -> Callable[[Request], AsyncIterator[Session]]:
    """A dependency giving the request its Session from ``pick``'s factory.

    The request is the unit of work: commit when the endpoint returns, else roll back.
    Opening a Session does no I/O (it connects on its first statement, in the endpoint's
    thread), so this runs on the event loop. Sync endpoints commit in their own thread
    (``rosterd.api.routing``); only what is still open here (async endpoints, sessions used
    by dependencies alone, failures) takes a worker thread to finish.
    """

    async def session_of(request: Request) -> AsyncIterator[Session]:
        session = pick(request.app.state.runtime)()
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

    return session_of


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# Each route declares which it needs. A read session never takes SQLite's single writer
# (searches by POST included); a write session starts with BEGIN IMMEDIATE there.
# scope="function": the commit happens before the response is sent, so a failed commit is
# reported to the client instead of being lost after a 2xx went out.
ReadSession = Annotated[Session, Depends(_unit_of_work(lambda rt: rt.db.reader), scope="function")]
WriteSession = Annotated[Session, Depends(_unit_of_work(lambda rt: rt.db.writer), scope="function")]


def request_id(request: Request) -> str | None:
    rid: str | None = request.scope.get("state", {}).get("request_id")
    return rid
