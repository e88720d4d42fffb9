"""The hottest operations' common case, answered before FastAPI's per-request machinery.

FastAPI spends about 60 µs of CPU on a request to a route with one path parameter before
the endpoint runs (matching the path against the routes in turn, solving dependencies,
validating parameters), and rosterd's routes declare several dependencies each: a GET by id
cost over half a millisecond, of which the lookup was 5 µs. A fast path is one operation's
common case (its credential present, its parameters well-formed) written with the very
pieces its FastAPI route uses: the surface's authentication and rate limits, the service,
the wire mapping. ``FastPaths`` answers it before FastAPI routes the request.

Whatever a fast path does not take on it hands back (its handler answers None before it has
done any work; the body it read is given to FastAPI again): a request without the expected
credential, a parameter or body that does not parse. FastAPI's route then serves it as
before; the route also stays the operation's definition in the OpenAPI document. An error
a fast path raises is answered by the app's own exception handlers
(``SurfaceErrors.response_for``), so it is the same response in the surface's format that
the FastAPI route would give.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rosterd.api.errors import SurfaceErrors
from rosterd.api.middleware import BodyCut

# A fast path's handler: the request and its path parameters (UUIDs already parsed), to a
# response, or None to leave the request to FastAPI.
Handler = Callable[[Request, Mapping[str, Any]], Awaitable[Response | None]]

_PARAMETER = re.compile(r"\{(\w+)(?::(\w+))?\}")
# The forms of each parameter type a fast path takes; any other spelling goes to FastAPI,
# whose validation decides (and words the error) as for any request.
_FORMS = {
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "str": r"[^/]+",
}
_CONVERT: dict[str, Callable[[str], Any]] = {"uuid": uuid.UUID, "str": str}


@dataclass(frozen=True)
class FastPath:
    """``handler`` for ``method`` on ``path`` (a route template such as
    ``/integration/v2/users/{userId:uuid}``)."""

    method: str
    path: str
    handler: Handler

    def pattern(self) -> re.Pattern[str]:
        regex, last = [], 0
        for match in _PARAMETER.finditer(self.path):
            regex.append(re.escape(self.path[last : match.start()]))
            regex.append(f"(?P<{match[1]}>{_FORMS[match[2] or 'str']})")
            last = match.end()
        regex.append(re.escape(self.path[last:]))
        return re.compile("".join(regex) + r"\Z")

    def converters(self) -> dict[str, Callable[[str], Any]]:
        return {m[1]: _CONVERT[m[2] or "str"] for m in _PARAMETER.finditer(self.path)}


@dataclass(frozen=True)
class _Compiled:
    pattern: re.Pattern[str]
    converters: Mapping[str, Callable[[str], Any]]
    handler: Handler


class FastPaths:
    """Pure ASGI middleware: serves ``paths``' requests when their handlers take them."""

    def __init__(self, app: ASGIApp, *, paths: Sequence[FastPath], errors: SurfaceErrors) -> None:
        self.app = app
        self._errors = errors
        self._by_method: dict[str, list[_Compiled]] = {}
        for path in paths:
            self._by_method.setdefault(path.method, []).append(
                _Compiled(path.pattern(), path.converters(), path.handler)
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for path in self._by_method.get(scope["method"], ()):
                match = path.pattern.match(scope["path"])
                if match is not None:
                    params = {k: path.converters[k](v) for k, v in match.groupdict().items()}
                    receive = await self._serve(path.handler, params, scope, receive, send)
                    if receive is _SERVED:
                        return
                    break
        await self.app(scope, receive, send)

    async def _serve(
        self,
        handler: Handler,
        params: Mapping[str, Any],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> Receive:
        """Answer through ``handler``; ``_SERVED`` if it did, else what FastAPI is to
        receive the request from (the body the handler read, given again)."""
        read: list[Message] = []

        async def recording_receive() -> Message:
            message = await receive()
            read.append(message)
            return message

        request = Request(scope, recording_receive)
        try:
            response = await handler(request, params)
        except BodyCut:
            raise  # BodyLimitMiddleware answers it
        except Exception as exc:
            response = self._errors.response_for(request, exc)
        if response is None:
            return _replaying(read, receive) if read else receive
        await response(scope, receive, send)
        return _SERVED


async def _SERVED() -> Message:  # noqa: N802 - a sentinel, never called
    raise AssertionError("the request was served")


def _replaying(read: list[Message], receive: Receive) -> Receive:
    """``receive`` that first gives again the messages a fast path read before it handed
    the request to FastAPI."""
    pending = list(read)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
