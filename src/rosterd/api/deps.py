"""Dependencies shared by every surface: the runtime and the request's unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from rosterd.runtime import Runtime

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _session(request: Request) -> Iterator[Session]:
    """The request is the unit of work: commit when the endpoint returns, else roll back."""
    db = get_runtime(request).db
    factory = db.reader if request.method in _READ_METHODS else db.writer
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# scope="function": the commit happens before the response is sent, so a failed commit is
# reported to the client instead of being lost after a 2xx went out.
SessionDep = Annotated[Session, Depends(_session, scope="function")]


def request_id(request: Request) -> str | None:
    rid: str | None = request.scope.get("state", {}).get("request_id")
    return rid
