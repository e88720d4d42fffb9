"""The /api/v1 surface (seed 004) and the unversioned /api paths its SDK calls."""

from rosterd.api.routing import api_router
from rosterd.api.v1 import auth, groups, roles, users
from rosterd.api.v1.schemas import MAX_BULK_BODY_BYTES as MAX_BULK_BODY_BYTES

PREFIXES = ("/api/v1", "/api/roles", "/api/users")
# Paths whose bodies may be larger than ROSTERD_MAX_BODY_BYTES, up to MAX_BULK_BODY_BYTES.
BULK_PATHS = ("/api/v1/users/bulk", "/api/v1/groups/bulk")

router = api_router()
for sub in (auth.router, users.router, users.legacy, groups.router, roles.router):
    router.include_router(sub)
