"""The dependencies that charge a request to its rate limits.

``rate_limited(actor_dependency)`` wraps a surface's authentication: FastAPI resolves the
surface's Actor once (the route and the wrapper share it), then the request is counted
against its credential's and its tenant's policies. A refused request raises
``RateLimited``, which each surface renders in its own format; the verdict is left on the
request for ``RateLimitMiddleware`` to write as RateLimit fields.
"""

# No ``from __future__ import annotations``: FastAPI must see the wrapped dependency in
# ``rate_limited``'s Annotated parameter, which a string annotation could not name.
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Header, Request

from rosterd.ratelimit.limiter import Limiter
from rosterd.ratelimit.policy import Policy, Verdict
from rosterd.ratelimit.tenant_policies import TenantPolicies
from rosterd.runtime import Runtime
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import RateLimited

# Where a request's verdict waits for the middleware, in the ASGI scope's state.
VERDICT = "rate_limit"


@dataclass(frozen=True)
class RateLimits:
    """What the app limits with, built once from the settings."""

    limiter: Limiter
    tenants: TenantPolicies
    failures: Policy  # failed authentications per client IP
    tokens: Policy  # access tokens issued per OAuth client

    @classmethod
    def of(cls, runtime: Runtime) -> "RateLimits | None":
        """The app's rate limits, or None when ROSTERD_RATE_LIMIT_ENABLED is off."""
        settings = runtime.settings
        if not settings.rate_limit_enabled:
            return None

        def own_limits(tenant_id: uuid.UUID) -> Mapping[str, str]:
            with runtime.db.reader() as session:
                return tenants_service.rate_limits(session, tenant_id)

        return cls(
            limiter=Limiter(settings.rate_limit_storage, key_prefix=settings.rate_limit_key_prefix),
            tenants=TenantPolicies(
                credential=settings.rate_limit_per_credential,
                tenant=settings.rate_limit_per_tenant,
                load=own_limits,
                ttl=settings.rate_limit_tenant_cache_seconds,
            ),
            failures=Policy.parse("failed-auth", settings.rate_limit_unauthenticated_per_ip),
            tokens=Policy.parse("token", settings.rate_limit_token_endpoint),
        )


def rate_limits(request: Request) -> RateLimits | None:
    """The app's rate limits; None when they are off (or the app was not made by
    ``create_app``)."""
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    return limits


def verdict_of(scope: Mapping[str, Any]) -> Verdict | None:
    verdict: Verdict | None = scope.get("state", {}).get(VERDICT)
    return verdict


def refused(verdict: Verdict, reason: str = "rate limit exceeded") -> RateLimited:
    """The error a refused request gets: which limit, and when to come back."""
    wait = verdict.retry_after or 1
    spent = verdict.report
    limit = ""
    if spent is not None:
        per = "second" if spent.window == 1 else f"{spent.window} seconds"
        limit = f" ({spent.label}: {spent.quota} per {per})"
    return RateLimited(f"{reason}{limit}; retry after {wait} seconds", retry_after=wait)


def _remember(request: Request, verdict: Verdict) -> None:
    """Leave ``verdict`` for the response's RateLimit fields; refuse the request if it says so."""
    request.scope.setdefault("state", {})[VERDICT] = verdict
    if not verdict.allowed:
        raise refused(verdict)


def rate_limited(authenticate: Callable[..., Any]) -> Callable[..., Awaitable[Actor]]:
    """A dependency yielding ``authenticate``'s Actor once its request is counted against
    the credential's and then the tenant's limits (those of the settings, or the tenant's
    own). Counted once per request, however many limited dependencies a route has."""

    async def limited(request: Request, actor: Annotated[Actor, Depends(authenticate)]) -> Actor:
        await charge(request, actor)
        return actor

    return limited


async def charge(request: Request, actor: Actor) -> None:
    """Count ``request`` against its credential's and then its tenant's limits (those of the
    settings, or the tenant's own), once per request; raise RateLimited when refused."""
    limits = rate_limits(request)
    if limits is not None and verdict_of(request.scope) is None:
        credential, tenant = await limits.tenants.of(actor.tenant_id)
        tenant_key = str(actor.tenant_id)
        verdict = await limits.limiter.charge(
            (credential, (tenant_key, actor.actor)), (tenant, (tenant_key,))
        )
        _remember(request, verdict)


# Names the client a token request authenticates as, from its Authorization header and its
# client_id form field; None when it names none.
ClientOf = Callable[[str | None, str | None], str | None]


def limit_issued_tokens(client_of: ClientOf) -> Callable[..., AsyncIterator[None]]:
    """A dependency of the token endpoint: a client whose tokens for the window are spent is
    refused before its secret is checked, and only tokens issued count, so nobody can spend
    a client's budget with its client_id and a wrong secret (a 401 counts against the
    caller's IP instead). Declare it with ``scope="function"``, so the count is in the
    response's RateLimit fields."""

    async def limited(
        request: Request,
        tenant: str,
        client_id: Annotated[str | None, Form(max_length=255)] = None,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> AsyncIterator[None]:
        limits = rate_limits(request)
        client = client_of(authorization, client_id)
        if limits is None or not client:
            yield
            return
        partition = (tenant, client)
        refusal = await limits.limiter.refusal(limits.tokens, partition)
        if refusal is not None:
            _remember(request, refusal)
        yield
        # Issued: counted, and reported even if concurrent requests took the last of the
        # window meanwhile (the token exists; refusing it now would only lose it).
        request.scope.setdefault("state", {})[VERDICT] = await limits.limiter.charge(
            (limits.tokens, partition)
        )

    return limited
