"""The /integration/v2 surface."""

from rosterd.api.fast_paths import FastPath
from rosterd.api.routing import api_router
from rosterd.api.v2 import audit, events, groups, lifecycle, roles, teams, users, webhooks

PREFIX = "/integration/v2"

router = api_router(prefix=PREFIX)
for module in (users, groups, roles, teams, lifecycle, audit, events, webhooks):
    router.include_router(module.router)

# The surface's fast paths (rosterd.api.fast_paths), under its prefix.
FAST_PATHS = tuple(
    FastPath(path.method, PREFIX + path.path, path.handler)
    for path in (*users.FAST_PATHS, *groups.FAST_PATHS)
)
