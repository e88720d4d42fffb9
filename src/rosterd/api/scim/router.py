"""The SCIM 2.0 surface, served at /scim/v2 and (the Sisense seed's path) /api/scim/v2."""

from fastapi import APIRouter

from rosterd.api.fast_paths import FastPath
from rosterd.api.routing import api_router
from rosterd.api.scim import bulk, discovery, groups, search, users

PREFIXES = ("/scim/v2", "/api/scim/v2")


def build(prefix: str, *, documented: bool) -> APIRouter:
    """Every SCIM route under ``prefix``: "" for the router the app mounts on each of
    PREFIXES, one of them for documenting the routes at their full paths."""
    router = api_router(prefix=prefix, include_in_schema=documented)
    for module in (users, groups, discovery, bulk, search):
        router.include_router(module.router)
    return router


# The surface's fast paths (rosterd.api.fast_paths), under each of its prefixes.
FAST_PATHS = tuple(
    FastPath(path.method, prefix + path.path, path.handler)
    for prefix in PREFIXES
    for path in users.FAST_PATHS
)
