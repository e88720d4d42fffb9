"""The /integration/v2 surface."""

from rosterd.api.routing import api_router
from rosterd.api.v2 import groups, lifecycle, roles, teams, users

PREFIX = "/integration/v2"

router = api_router(prefix=PREFIX)
for module in (users, groups, roles, teams, lifecycle):
    router.include_router(module.router)
