"""Dependencies shared by every surface: the runtime and the request's unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from rosterd.db.work import KIND, RUNNER, Kind
from rosterd.runtime import Runtime

T = TypeVar("T")


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _unit_of_work(
    pick: Callable[[Runtime], sessionmaker[Session]], kind: Kind
) -> Callable[[Request], AsyncIterator[Session]]:
    """A dependency giving the request its Session from ``pick``'s factory, marked with the
    kind of work it is for and the runtime's runner of that work (``rosterd.db.work``).

    The request is the unit of work: commit when the endpoint returns, else roll back.
    Opening a Session does no I/O (it connects on its first statement, where the runner
    runs the endpoint), so this runs on the event loop. Sync endpoints are run and committed
    by the runner (``rosterd.api.routing``); only what is still open here (async endpoints,
    sessions used by dependencies alone, failures) takes a worker thread to finish.
    """

    async def session_of(request: Request) -> AsyncIterator[Session]:
        runtime: Runtime = request.app.state.runtime
        session = pick(runtime)()
        session.info[KIND] = kind
        session.info[RUNNER] = runtime.work
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


async def in_unit_of_work(runtime: Runtime, kind: Kind, work: Callable[[Session], T]) -> T:
    """``work`` given a Session for ``kind`` of work, run and committed where the runtime
    runs that kind (rolled back if it fails): what a route's session dependency and its
    router do, for a fast path (rosterd.api.fast_paths)."""
    session = (runtime.db.writer if kind is Kind.WRITE else runtime.db.reader)()
    session.info[KIND] = kind
    session.info[RUNNER] = runtime.work
    try:
        result: T = await runtime.work.run(kind, [session], lambda: work(session))
    finally:
        session.close()
    return result


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# Each route declares which it needs, and so where its work runs (rosterd.db.work). A read
# session never takes SQLite's single writer (searches by POST included): ReadSession is
# for reads of a few rows by index (run on the event loop on SQLite), SearchSession for
# searches and pages of many rows (on a bounded executor, so they cannot stall the loop).
# A WriteSession's work goes to SQLite's one writer, committed with its neighbours.
# scope="function": the commit happens before the response is sent, so a failed commit is
# reported to the client instead of being lost after a 2xx went out.
ReadSession = Annotated[
    Session,
    Depends(_unit_of_work(lambda rt: rt.db.reader, Kind.POINT_READ), scope="function"),
]
SearchSession = Annotated[
    Session,
    Depends(_unit_of_work(lambda rt: rt.db.reader, Kind.SLOW_READ), scope="function"),
]
WriteSession = Annotated[
    Session,
    Depends(_unit_of_work(lambda rt: rt.db.writer, Kind.WRITE), scope="function"),
]


def request_id(request: Request) -> str | None:
    rid: str | None = request.scope.get("state", {}).get("request_id")
    return rid


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, as ``HTTPBearer`` reads it."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" and token else None
