"""The ASGI application: every surface on one app and one port."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.telemetry import TelemetryConfig
from scim2_models import SCIMException
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from rosterd import __version__, console
from rosterd.api import docs, idempotency, ops
from rosterd.api.admin import admins as admin_admins
from rosterd.api.admin import api_keys as admin_api_keys
from rosterd.api.admin import oauth_clients as admin_oauth_clients
from rosterd.api.admin import scim_tokens as admin_scim_tokens
from rosterd.api.admin import shared as admin
from rosterd.api.admin import signing_keys as admin_signing_keys
from rosterd.api.adminusers import errors as adminusers_errors
from rosterd.api.adminusers import router as adminusers
from rosterd.api.errors import SurfaceErrors, plain_json, store_conflict, store_unavailable
from rosterd.api.fast_paths import FastPaths
from rosterd.api.identities import errors as identities_errors
from rosterd.api.identities import router as identities
from rosterd.api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from rosterd.api.oauth import router as oauth
from rosterd.api.ratelimit.dependencies import RateLimits
from rosterd.api.ratelimit.middleware import RateLimitMiddleware
from rosterd.api.ratelimit.openapi import document_429
from rosterd.api.scim import errors as scim_errors
from rosterd.api.scim import router as scim
from rosterd.api.scim.discovery import MAX_BULK_PAYLOAD
from rosterd.api.v1 import errors as v1_errors
from rosterd.api.v1 import router as v1
from rosterd.api.v2 import errors as v2_errors
from rosterd.api.v2 import router as v2
from rosterd.auth.login_guard import LoginGuard, async_storage
from rosterd.console import authorize
from rosterd.db.unavailable import STORE_UNAVAILABLE_ERRORS
from rosterd.lifecycle.last_uses import LastUseWriter
from rosterd.runtime import Runtime
from rosterd.services.errors import TooLarge

# FastAPI's OpenTelemetry instrumentation off (Settings.opentelemetry).
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

DESCRIPTION = """\
rosterd serves one user directory through several APIs.

* **REST v2** at `/integration/v2`: the Seismic-compatible user management API. Authenticate
  with an OAuth 2.0 access token from `POST /tenants/{tenant}/connect/token`
  (client_credentials). Extensions beyond the seed spec are marked as such.
* **OAuth 2.0** at `/tenants/{tenant}/connect/token`, with JWKS and RFC 8414 metadata.
* **SCIM 2.0** at `/scim/v2` (also `/api/scim/v2`), for Okta and Entra ID provisioning.
  Authenticate with a SCIM token (`rosterd scim-tokens create`), not an OAuth token.
"""


def create_app(runtime: Runtime, *, fast_paths: bool = True) -> FastAPI:
    """The app on ``runtime``. ``fast_paths=False`` serves every request through FastAPI's
    routes (rosterd.api.fast_paths), which the tests compare the fast paths with."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Each process serving requests writes the last uses its requests note.
        last_uses = LastUseWriter(runtime.db, runtime.last_uses)
        last_uses.start()
        try:
            yield
        finally:
            await run_in_threadpool(last_uses.stop)
            # What the runtime holds on this event loop (PostgreSQL's point-read pool).
            await runtime.work.aclose()

    app = FastAPI(
        lifespan=lifespan,
        telemetry=None if runtime.settings.opentelemetry else _NO_TELEMETRY,
        title="rosterd",
        version=__version__,
        # Served by rosterd.api.docs from installed files (FastAPI's load from a CDN).
        docs_url=None,
        redoc_url=None,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "Users", "description": "Operations for managing user accounts."},
            {"name": "Groups", "description": "Operations for managing user groups."},
            {"name": "Roles", "description": "Operations for managing roles and permissions."},
            {"name": "Teams", "description": "Operations for managing team structures."},
        ],
    )
    app.state.runtime = runtime
    settings = runtime.settings
    app.state.login_guard = LoginGuard(
        async_storage(settings.rate_limit_storage, settings.rate_limit_key_prefix),
        per_account=settings.login_limits_per_account,
        per_address=settings.login_limits_per_address,
        concurrency=settings.login_concurrency,
    )
    app.state.rate_limits = limits = RateLimits.of(runtime)
    errors = SurfaceErrors(default=plain_json)
    errors.register((v2.PREFIX,), v2_errors.render)
    errors.register((admin.PREFIX,), admin.render)
    console.register_errors(errors)
    errors.register((oauth.PREFIX,), authorize.errors_beside(oauth.render))
    errors.register(scim.PREFIXES, scim_errors.render)
    errors.register(v1.PREFIXES, v1_errors.render)
    errors.register((adminusers.PREFIX,), adminusers_errors.render)
    errors.register((identities.PREFIX,), identities_errors.render)
    errors.translate(SCIMException, scim_errors.from_scim_exception)
    errors.translate(IntegrityError, store_conflict)
    for unavailable in STORE_UNAVAILABLE_ERRORS:
        errors.translate(unavailable, store_unavailable)
    errors.install(app)
    app.add_exception_handler(idempotency.Replay, idempotency.replay_response)
    # SCIM comes first, mounted on its prefixes: a SCIM request is dispatched on its prefix
    # instead of being matched against every other surface's routes first, and a request for
    # another surface is told apart from SCIM's routes by two prefix checks.
    scim_routes = scim.build("", documented=False)
    for prefix in scim.PREFIXES:
        app.mount(prefix, scim_routes)
    app.include_router(ops.router)
    app.include_router(oauth.router)
    app.include_router(authorize.router)
    app.include_router(v2.router)
    app.include_router(admin_oauth_clients.router)
    app.include_router(admin_scim_tokens.router)
    app.include_router(admin_signing_keys.router)
    app.include_router(admin_api_keys.router)
    app.include_router(admin_admins.router)
    app.include_router(v1.router)
    app.include_router(adminusers.router)
    app.include_router(identities.router)
    # After /admin/api's routers: the console has the other paths under /admin.
    console.install(app)
    # Swagger UI from the installed swagger-ui-bundle, not a CDN.
    docs.install(app)

    def too_large(request: Request, limit: int) -> Response:
        err = TooLarge(f"request body larger than {limit} bytes")
        return errors.renderer(request.url.path)(request, err, 413)

    # Innermost first: a response kept for Idempotency-Key replays is the endpoint's own,
    # without the request id and rate-limit fields of its exchange.
    app.add_middleware(idempotency.IdempotencyMiddleware, runtime=runtime)
    # The fast paths answer inside every other middleware, as FastAPI's routes do (they
    # leave requests with an Idempotency-Key to the routes); the body limit renders with the
    # request id already set.
    if fast_paths:
        app.add_middleware(
            FastPaths,
            paths=(*v2.FAST_PATHS, *scim.FAST_PATHS, *identities.FAST_PATHS),
            errors=errors,
        )
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        too_large=too_large,
        path_limits={
            # SCIM Bulk advertises maxPayloadSize (RFC 7644 §3.7.4) and holds to it.
            **{f"{prefix}/Bulk": MAX_BULK_PAYLOAD for prefix in scim.PREFIXES},
            # /api/v1 bulk creates take 1000 items; their limit is in their OpenAPI entries.
            **dict.fromkeys(v1.BULK_PATHS, max(v1.MAX_BULK_BODY_BYTES, settings.max_body_bytes)),
        },
    )
    if limits is not None:
        # Outside the body limit: an address out of failed authentications is refused
        # before its body is read.
        app.add_middleware(
            RateLimitMiddleware,
            limits=limits,
            respond=errors.respond,
            exchanges=CREDENTIAL_EXCHANGES,
        )
    app.add_middleware(RequestIdMiddleware)
    if runtime.settings.trusted_proxies:
        # Client address and scheme from X-Forwarded-For/-Proto, from these peers only.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=runtime.settings.trusted_proxies)
    limited = limits is not None
    # Mounted routes are not in app.routes' documentation: SCIM's are described at its
    # first prefix (the alias is the same API).
    scim_documented = scim.build(scim.PREFIXES[0], documented=True).routes
    app.openapi = lambda: openapi_document(  # type: ignore[method-assign]
        app, limited=limited, mounted=scim_documented
    )
    return app


# Paths whose requests carry credentials in their body: a 401 there counts against the
# client's address like a bad token does.
CREDENTIAL_EXCHANGES = re.compile(
    rf"^{re.escape(oauth.PREFIX)}/[^/]+/connect/(token|revoke)/?$|^/api/v1/authentication/login/?$"
)


def openapi_document(
    app: FastAPI, *, limited: bool, mounted: Sequence[BaseRoute] = ()
) -> dict[str, Any]:
    """The OpenAPI document of the app's routes and the ``mounted`` ones, minus FastAPI's 422
    (rosterd answers invalid input with 400; a 422 an operation declares stays), with the
    Idempotency-Key header (and its 409 and 422) on the POSTs that take it, and when rate
    limits are on, with the 429 every operation that takes credentials may answer."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=[*app.routes, *mounted],
            tags=app.openapi_tags,
        )
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if "HTTPValidationError" in str(responses.get("422", {})):
                    del responses["422"]
        idempotency.document(schema)
        if limited:
            document_429(schema, exchanges=CREDENTIAL_EXCHANGES)
        app.openapi_schema = schema
    return app.openapi_schema
