"""The ASGI application: every surface on one app and one port."""

from __future__ import annotations

from fastapi import FastAPI

from rosterd import __version__
from rosterd.api import ops
from rosterd.api.errors import SurfaceErrors, plain_json
from rosterd.api.middleware import RequestIdMiddleware
from rosterd.api.oauth import router as oauth
from rosterd.api.v2 import errors as v2_errors
from rosterd.api.v2 import router as v2
from rosterd.runtime import Runtime

DESCRIPTION = """\
rosterd serves one user directory through several APIs.

* **REST v2** at `/integration/v2`: the Seismic-compatible user management API. Authenticate
  with an OAuth 2.0 access token from `POST /tenants/{tenant}/connect/token`
  (client_credentials). Extensions beyond the seed spec are marked as such.
* **OAuth 2.0** at `/tenants/{tenant}/connect/token`, with JWKS and RFC 8414 metadata.
"""


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="rosterd",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "Users", "description": "Operations for managing user accounts."},
            {"name": "Groups", "description": "Operations for managing user groups."},
            {"name": "Roles", "description": "Operations for managing roles and permissions."},
            {"name": "Teams", "description": "Operations for managing team structures."},
        ],
    )
    app.state.runtime = runtime
    errors = SurfaceErrors(default=plain_json)
    errors.register((v2.PREFIX,), v2_errors.render)
    errors.register((oauth.PREFIX,), oauth.render)
    errors.install(app)
    app.include_router(ops.router)
    app.include_router(oauth.router)
    app.include_router(v2.router)
    app.add_middleware(RequestIdMiddleware)
    return app
