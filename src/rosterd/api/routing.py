"""The router every surface uses: it ends the unit of work in the endpoint's own thread.

FastAPI runs a sync endpoint in a worker thread and a dependency's exit back on the event
loop, so committing in the session dependency costs a second thread hand-off, and on SQLite
the write lock stays held while the commit waits its turn on a busy loop. Here each sync
endpoint that takes the request's Session commits it in the same thread right after it
returns; the dependency then only closes it (see ``rosterd.api.deps``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session


def commits_in_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint``, committing the Session it was given once it returns without error."""

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session):
                value.commit()
        return result

    return run


class UnitOfWorkRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = commits_in_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes commit the request's unit of work in the endpoint's thread."""
    return APIRouter(route_class=UnitOfWorkRoute, **kwargs)
