"""Fast paths of v2 routes (rosterd.api.fast_paths), made from the routes' own endpoints.

``fast(endpoint, scope, ...)`` serves a route's common case by calling its endpoint function
with what FastAPI would have given it: the path parameters, the body validated by the same
model, the Actor of the route's scope (its rate limits charged), and a Session for its kind
of work, run and committed where the runtime runs that kind. It hands FastAPI any request
with a query string, a body that is not JSON or does not validate, or no bearer token: the
route answers those, and words their errors, as it always has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from rosterd.api.deps import in_unit_of_work
from rosterd.api.fast_paths import Handler
from rosterd.api.v2.auth import fast_actor
from rosterd.auth.scopes import Scope
from rosterd.db.work import Kind
from rosterd.runtime import Runtime


def _json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this Content-Type as JSON (none given counts)."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _response(result: Any, status_code: int) -> Response:
    """An endpoint's result as FastAPI sends it (``response_model_exclude_none``)."""
    if isinstance(result, Response):
        return result
    assert isinstance(result, BaseModel), result
    content = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


def fast(
    endpoint: Callable[..., Any],
    scope: Scope,
    *,
    body: type[BaseModel] | None = None,
    status_code: int = 200,
    kind: Kind = Kind.WRITE,
) -> Handler:
    """A fast path calling ``endpoint`` (a v2 route's function, declared with ``scope`` and,
    when it takes one, a ``body`` of that model; its Session parameter is ``session``)."""

    async def handle(request: Request, params: Mapping[str, Any]) -> Response | None:
        if request.scope["query_string"]:
            return None
        arguments = dict(params)
        if body is not None:
            if not _json(request.headers.get("content-type")):
                return None
            try:
                arguments["body"] = body.model_validate_json(await request.body())
            except ValidationError:
                return None
        actor = await fast_actor(request, scope)
        if actor is None:
            return None
        runtime: Runtime = request.app.state.runtime
        result = await in_unit_of_work(
            runtime, kind, lambda session: endpoint(actor=actor, session=session, **arguments)
        )
        return _response(result, status_code)

    return handle
