"""Dependencies shared by every surface: the runtime and the request's unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from rosterd.db.work import KIND, RUNNER, Kind
from rosterd.runtime import Runtime

T = TypeVar("T")


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _session_for(runtime: Runtime, kind: Kind) -> Session:
    """A Session for ``kind`` of work (the writer's for writes, else the reader's), marked
    with that kind and the runtime's runner of it (``rosterd.db.work``)."""
    session = (runtime.db.writer if kind is Kind.WRITE else runtime.db.reader)()
    session.info[KIND] = kind
    session.info[RUNNER] = runtime.work
    return session


def _unit_of_work(kind: Kind) -> Callable[[Request], AsyncIterator[Session]]:
    """A dependency giving the request its Session for ``kind`` of work (``_session_for``).

    The request is the unit of work: commit when the endpoint returns, else roll back.
    Opening a Session does no I/O (it connects on its first statement, where the runner
    runs the endpoint), so this runs on the event loop. Sync endpoints are run and committed
    by the runner (``rosterd.api.routing``); only what is still open here (async endpoints,
    sessions used by dependencies alone, failures) takes a worker thread to finish.
    """

    async def session_of(request: Request) -> AsyncIterator[Session]:
        session = _session_for(request.app.state.runtime, kind)
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
    session = _session_for(runtime, kind)
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
    Depends(_unit_of_work(Kind.POINT_READ), scope="function"),
]
SearchSession = Annotated[
    Session,
    Depends(_unit_of_work(Kind.SLOW_READ), scope="function"),
]
WriteSession = Annotated[
    Session,
    Depends(_unit_of_work(Kind.WRITE), scope="function"),
]


def request_id(request: Request) -> str | None:
    rid: str | None = request.scope.get("state", {}).get("request_id")
    return rid


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, as ``HTTPBearer`` reads it."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" and token else None
