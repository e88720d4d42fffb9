"""Failed authentications limited per client IP, and the RateLimit fields on the way out."""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rosterd.api.ratelimit import fields
from rosterd.api.ratelimit.dependencies import VERDICT, RateLimits, refused, verdict_of
from rosterd.services.errors import DomainError

# Renders a domain error in the format of the surface that owns the request's path.
Responder = Callable[[Request, DomainError], Response]

_CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-api-key"})


class RateLimitMiddleware:
    """Counts each 401 to a request that carried credentials against the client's IP.

    Once an IP's budget of failures (ROSTERD_RATE_LIMIT_UNAUTHENTICATED_PER_IP) is spent,
    every request from it that carries credentials (an Authorization or x-api-key header,
    or any request to ``exchanges``: the token endpoint, the /api/v1 login) is a 429 here,
    before a token is verified or the database is touched. Requests without credentials
    are answered 401 as before and do not count: they cost nothing to refuse.

    On the way out it writes the verdict a rate-limit dependency left on the request as the
    RateLimit-Policy and RateLimit fields.
    """

    def __init__(
        self, app: ASGIApp, *, limits: RateLimits, respond: Responder, exchanges: re.Pattern[str]
    ) -> None:
        self.app = app
        self.limits = limits
        self.respond = respond
        self.exchanges = exchanges

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = client[0] if client else None
        counted = ip is not None and self._carries_credentials(scope)

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                if counted and message["status"] == 401:
                    await self.limits.limiter.count(self.limits.failures, (str(ip),))
                verdict = verdict_of(scope)
                if verdict is not None:
                    message.setdefault("headers", []).extend(fields.headers(verdict))
            await send(message)

        if counted:
            refusal = await self.limits.limiter.refusal(self.limits.failures, (str(ip),))
            if refusal is not None:
                scope.setdefault("state", {})[VERDICT] = refusal
                reason = "too many failed authentications from this address"
                response = self.respond(Request(scope), refused(refusal, reason))
                await response(scope, receive, send_with_fields)
                return
        await self.app(scope, receive, send_with_fields)

    def _carries_credentials(self, scope: Scope) -> bool:
        return not _CREDENTIAL_HEADERS.isdisjoint([name for name, _ in scope["headers"]]) or (
            self.exchanges.match(scope["path"]) is not None
        )
