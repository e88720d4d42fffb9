"""Pure ASGI middleware: a request id for every request, and a cap on request body size."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_HTTP1 = frozenset({"1.0", "1.1"})


class RequestIdMiddleware:
    """A request id for every request: taken from X-Request-ID when sane, else generated."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for n, v in scope["headers"] if n == b"x-request-id"), b"")
        rid = incoming.decode("latin-1")
        if not _SAFE_ID.match(rid):
            # Names the request in logs and answers; nothing secret, so not os.urandom.
            rid = f"{random.getrandbits(64):016x}"
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


# Renders "the body is over `limit` bytes" for a request, in the format of its surface.
TooLargeResponder = Callable[[Request, int], Response]


class BodyCut(Exception):
    """Raised into the app from ``receive`` once the body has passed its limit."""


class BodyLimitMiddleware:
    """Answers 413 to a request body larger than its path's limit.

    A Content-Length over the limit is refused before the app runs, so no credential check
    or other work is spent on it; one within it is all the server delivers, so the request
    goes to the app as it is. A body without one (chunked) is counted as it arrives: the
    read that passes the limit raises into the app, whatever the app makes of that (a 400
    from a body parser, an exception) is dropped, and the 413 goes out instead. Either way
    the answer is rendered by ``too_large``, i.e. in the surface's own error format. An
    HTTP/1 request with neither header has no body (RFC 9112, section 6.3), so the most
    common requests, GETs, pass without a counting ``receive`` and ``send`` wrapped round them.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        too_large: TooLargeResponder,
        path_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.too_large = too_large
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"].rstrip("/"), self.limit)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self.too_large(Request(scope), limit)(scope, receive, send)
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return

        received = 0
        cut = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, cut
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut = True
                    raise BodyCut
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if cut and not started:
                return  # the app's answer to a body it never fully got
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not cut or started:
                raise
        if cut and not started:
            await self.too_large(Request(scope), limit)(scope, receive, send)


def _declared_length(scope: Scope) -> int | None:
    """The body's length as the request's framing fixes it: its Content-Length, or 0 for an
    HTTP/1 request with neither Content-Length nor Transfer-Encoding; None when the body
    is to be counted as it arrives (chunked, HTTP/2, a Content-Length that is not a number)."""
    length: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return None  # chunked: Transfer-Encoding wins over any Content-Length
        if name == b"content-length":
            length = value
    if length is None:
        return 0 if scope.get("http_version") in _HTTP1 else None
    return int(length) if length.isdigit() else None
