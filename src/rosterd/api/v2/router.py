"""The /integration/v2 surface."""

from rosterd.api.routing import api_router
from rosterd.api.v2 import audit, events, groups, roles, teams, users

PREFIX = "/integration/v2"

router = api_router(prefix=PREFIX)
for module in (users, groups, roles, teams, audit, events):
    router.include_router(module.router)
