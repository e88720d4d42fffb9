"""The /api/v1 surface (seed 004) and the unversioned /api paths its SDK calls."""

from rosterd.api.routing import api_router
from rosterd.api.v1 import auth, groups, roles, users

PREFIXES = ("/api/v1", "/api/roles", "/api/users")

router = api_router()
for sub in (auth.router, users.router, users.legacy, groups.router, roles.router):
    router.include_router(sub)
